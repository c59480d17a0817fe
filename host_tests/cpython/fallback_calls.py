"""One box with several calls in the ICE fallback at once, under either interpreter, for the
socket budget (boards/README.md): per call a phone-side and a network-side media socket (as the
box opens them, from ``phone.rtp`` and ``network.rtp``), a media session with a real ZRTP leg and
the runtime's fallback (zerotap.runtime.fallback: its ICE socket, the helper over HTTPS); one
BoxFallback for the box. The phones are played in the script (G.711, 50 packets/s). Every socket
the loop registers is counted as it opens, and the peak is reported.

    micropython fallback_calls.py SETTINGS_FILE

SETTINGS_FILE (JSON): ``config`` (CONFIG.json with its ice section), ``direction``,
``providers`` ([[host, port], ...]: one per call), ``run_s`` (after every call is SECURE),
``limit_s``. Prints one JSON line: ``peak`` (sockets at once), ``open_after`` (after the calls
ended), ``calls`` ([{step, reason, security, sas, pair}]).
"""
import json
import os
import sys

from zerotap import config, media, status
from zerotap.runtime import fallback as rfallback
from zerotap.runtime import stream, udp
from zerotap.zrtp import algorithms, engine


def main(path):
    with open(path) as f:
        s = json.loads(f.read())
    cfg = config.parse(s["config"])
    loop = udp.Loop()
    peak = [0]
    opened = [0]

    def track():
        n = len(loop._by_key)
        if n > peak[0]:
            peak[0] = n

    real_open, real_watch = loop.open, loop.watch

    def open_(*a):
        ep = real_open(*a)
        opened[0] += 1
        track()
        return ep

    def watch(*a):
        real_watch(*a)
        track()
    loop.open = open_
    loop.watch = watch
    streams = stream.Streams(loop)
    box = status.BoxStatus()
    bf = rfallback.BoxFallback(cfg, loop, streams)
    calls = []
    for i, prov in enumerate(s["providers"]):
        call = box.new_call(i + 1, s["direction"], "sip:peer%d@x" % i)
        call.set_state(status.ACTIVE)  # answered (the fallback counts from the answer)
        c = {"call": call, "fb": None, "secure_at": None}

        def transmit(leg, buf, n, addr, c=c):
            if leg == media.NET_RTP:
                c["net"].send(bytes(buf[:n]), addr)
            elif leg >= 4 and c["fb"] is not None:
                c["fb"].send_media(buf, n)

        def make_leg(call=call):
            ecfg = engine.Config(offer=algorithms.Offer(key_agreements=("X255",)))
            return media.ZrtpLeg(engine.Engine(int.from_bytes(os.urandom(4), "big"),
                                               config=ecfg), call)
        first = make_leg()
        session = media.MediaSession(transmit, cfg.media.clear, first, call)
        first.bind(session)
        c["session"] = session
        # the call's two media sockets, as the box opens them (one per side)
        c["phone"] = loop.open(cfg.phone.host, cfg.phone.rtp[0] + i,
                               lambda ep, data, n, addr, now: None)
        c["net"] = loop.open(cfg.network.host, cfg.network.rtp[0] + i,
                             lambda ep, data, n, addr, now, se=session: se.receive(
                                 media.NET_RTP, bytearray(bytes(memoryview(data)[:n])), n,
                                 addr, now))
        session.set_remote(0, "127.0.0.1", 9)
        session.set_remote(1, prov[0], prov[1])
        c["fb"] = bf.attach(None, call, session, make_leg)
        first.start(loop.clock())
        c["phone_at"] = loop.clock()
        c["seq"] = 100
        calls.append(c)
    t0 = loop.clock()
    done = {"at": None}

    class App:
        def timer(self):
            t = None
            for c in calls:
                for d in (c["session"].timer(), c["phone_at"]):
                    if d is not None and (t is None or d < t):
                        t = d
            return t

        def handle_timer(self, now):
            for c in calls:
                if now >= c["phone_at"]:
                    c["phone_at"] = now + 20
                    q = c["seq"] & 0xFFFF
                    ts = (c["seq"] * 160) & 0xFFFFFFFF
                    c["seq"] += 1
                    pkt = bytearray(bytes((0x80, 0, q >> 8, q & 0xFF, ts >> 24, (ts >> 16) & 0xFF,
                                           (ts >> 8) & 0xFF, ts & 0xFF, 1, 2, 3, 4)) +
                                    b"\x55" * 160)
                    c["session"].receive(media.PHONE_RTP, pkt, len(pkt), ("127.0.0.1", 9), now)
                t = c["session"].timer()
                if t is not None and t <= now:
                    c["session"].handle_timer(now)
                if c["secure_at"] is None and c["call"].security == status.SECURE and \
                        c["fb"].step == "direct":
                    c["secure_at"] = now
            if done["at"] is None and all(c["secure_at"] is not None or
                                          c["fb"].step == "failed" for c in calls):
                done["at"] = now
            if done["at"] is not None and now - done["at"] > s["run_s"] * 1000:
                loop.stop()
            if now - t0 > s["limit_s"] * 1000:
                loop.stop()
    loop.run(App(), 50)
    out = {"peak": peak[0], "opened": opened[0], "calls": []}
    for c in calls:
        f = c["fb"]
        out["calls"].append({"step": f.step, "reason": f.reason, "security": c["call"].security,
                             "sas": c["call"].sas, "pair": [f.selected[0].type,
                                                            f.selected[1].type]
                             if f.selected else None})
    for c in calls:
        c["session"].close()
        c["phone"].close()
        c["net"].close()
    loop.run_once(100)
    bf.close()
    streams.close_all()
    out["open_after"] = len(loop._by_key)
    loop.close_all()
    print(json.dumps(out))


main(sys.argv[1])
