"""One box's side of a call for the fallback tests, under either interpreter: the media session
(real ZRTP engines with X25519, real SRTP), the runtime's fallback (zerotap.runtime.fallback:
its ICE UDP socket, the helper over HTTPS with the pinned CA) on real sockets, and a phone that
the script plays (G.711, 50 packets/s, straight into the session's phone leg).

    micropython fallback_box.py SETTINGS_FILE

SETTINGS_FILE (JSON; the unix port dies on a long argument): ``config`` (a CONFIG.json object
with its ice section), ``direction`` ("out": the caller's box), ``peer``, ``provider``
([host, port]: where the provider path's RTP goes), ``run_s`` (how long after SECURE to keep the
call), ``limit_s``, ``remembered`` (the peer is in the box's memory: the fallback starts at once), ``sdp_events`` (the
telephone-event payload types both SDPs mapped; [] for none). Prints one JSON line at the end.
"""
import json
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
    streams = stream.Streams(loop)
    box = status.BoxStatus()
    call = box.new_call(1, s["direction"], s["peer"])
    call.set_state(status.ACTIVE)  # answered (the fallback counts from the answer)
    out = {"to_phone": 0, "to_phone_secure": 0, "phone_sample": None, "steps": [],
           "to_phone_after_fail": 0, "failed_ms": None}
    state = {"secure_at": None, "t0": loop.clock()}

    def seen(b, c):
        if c is not None and (not out["steps"] or out["steps"][-1] != c.fallback) and \
                c.fallback is not None:
            out["steps"].append(c.fallback)
    box.listen(seen)
    net_ep = [None]
    fb = [None]

    def transmit(leg, buf, n, addr):
        if leg == media.NET_RTP:
            net_ep[0].send(bytes(buf[:n]), addr)
        elif leg == media.PHONE_RTP:
            out["to_phone"] += 1
            if out["failed_ms"] is not None:
                out["to_phone_after_fail"] += 1
            if state["secure_at"] is not None:
                out["to_phone_secure"] += 1
                out["phone_sample"] = "".join("%02x" % b for b in bytes(buf[:n])[12:20])
        elif leg >= 4 and fb[0] is not None:
            fb[0].send_media(buf, n)

    def make_leg():
        ecfg = engine.Config(offer=algorithms.Offer(key_agreements=("X255",)))
        rnd = __import__("os").urandom(4)
        return media.ZrtpLeg(engine.Engine(int.from_bytes(rnd, "big"), config=ecfg), call)

    nobox = s.get("nobox")  # a plain phone's side: no ZRTP, no fallback, clear audio
    first = None if nobox else make_leg()
    session = media.MediaSession(transmit, cfg.media.clear, first, call)
    if first is not None:
        first.bind(session)
    net_ep[0] = loop.open(cfg.network.host, cfg.network.rtp[0],
                          lambda ep, data, n, addr, now: session.receive(
                              media.NET_RTP, bytearray(bytes(memoryview(data)[:n])), n, addr,
                              now))
    session.set_remote(0, "127.0.0.1", 9)
    session.set_remote(1, s["provider"][0], s["provider"][1])
    logs = []

    def log(text):
        logs.append("%d %s" % (loop.clock() - state["t0"], text))
    bf = rfallback.BoxFallback(cfg, loop, streams, log)
    if s.get("remembered"):
        bf.memory.remember(s["peer"])  # an earlier call to this peer found ZRTP blocked
    if not nobox:
        fb[0] = bf.attach(None, call, session, make_leg)
        if "sdp_events" in s:  # what the two SDPs of the call said about telephone-event
            for side in (0, 1):
                fb[0].sdp_events(side, s["sdp_events"])
        first.start(loop.clock())
    phone = {"at": loop.clock(), "seq": 100, "ts": 8000}
    mark = 0x30 if s["direction"] == "out" else 0x50

    class App:
        def timer(self):
            t = session.timer()
            if t is None or phone["at"] < t:
                t = phone["at"]
            return t

        def handle_timer(self, now):
            if now >= phone["at"]:
                phone["at"] = now + 20
                q, ts = phone["seq"] & 0xFFFF, phone["ts"]
                pkt = bytearray(bytes((0x80, 0, q >> 8, q & 0xFF, (ts >> 24) & 0xFF,
                                       (ts >> 16) & 0xFF, (ts >> 8) & 0xFF, ts & 0xFF,
                                       0x12, 0x34, 0x56, mark)) + bytes([mark]) * 160)
                phone["seq"] += 1
                phone["ts"] += 160
                session.receive(media.PHONE_RTP, pkt, len(pkt), ("127.0.0.1", 9), now)
            t = session.timer()
            if t is not None and t <= now:
                session.handle_timer(now)
            f = fb[0]
            if f is None:
                if now - state["t0"] > s["limit_s"] * 1000:
                    loop.stop()
                return
            if state["secure_at"] is None and call.security == status.SECURE and \
                    f.step == "direct":
                state["secure_at"] = now
                state["secure_epoch"] = __import__("time").time()
            if state["secure_at"] is not None and now - state["secure_at"] > s["run_s"] * 1000:
                loop.stop()
            if f.step == "failed" and out["failed_ms"] is None:
                out["failed_ms"] = now - state["t0"]
            if f.step == "failed" and now - state["t0"] - out["failed_ms"] > 2000:
                loop.stop()
            if now - state["t0"] > s["limit_s"] * 1000:
                loop.stop()
    loop.run(App(), 50)
    f = fb[0]
    if f is None:
        session.close()
        loop.close_all()
        print(json.dumps(out))
        return
    out.update({"step": f.step, "reason": f.reason, "security": call.security, "sas": call.sas,
                "error": call.error, "path": call.path, "started_ms": (f.started_at or 0) -
                state["t0"], "secure_ms": (state["secure_at"] - state["t0"])
                if state["secure_at"] is not None else None, "peer_id": f.peer_id,
                "local_id": f.local_id, "provider_dropped": f.provider_dropped,
                "keepalives": f.keepalives, "policy": session.policy,
                "unauthenticated": session.counters.unauthenticated, "log": logs[-200:],
                "peer_frames": f.peer_frames, "pair": [f.selected[0].type, f.selected[1].type]
                if f.selected else None, "secure_epoch": state.get("secure_epoch"), "rejected": f._decoder.rejected,
                "frames_sent": f.frames_sent, "peer_form": f._peer_form})
    session.close()
    loop.run_once(100)
    bf.close()
    streams.close_all()
    loop.close_all()
    print(json.dumps(out))


main(sys.argv[1])
