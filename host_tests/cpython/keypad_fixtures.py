"""Record what a real phone sends when its user types keypad codes, for the firmware keypad tests.

    .venv/bin/python host_tests/cpython/keypad_fixtures.py

linphonec (liblinphone/mediastreamer2, RFC 4733 events on) calls a tiny answerer of ours on
loopback, plays audio, and the user types, one line at a time: ``*#1`` (the "verified" code),
``5`` (an ordinary key), ``*7`` (a star that turns out to start no code), ``*`` alone (held until
the box's timeout), ``*#0`` (the "unverified" code). Every RTP packet linphonec sent is kept, with
its arrival time, in host_tests/vectors/keypad_linphonec_stream.json: event packets whole, audio
packets as their 12-byte header and payload length (the test fills the payload with silence).
"""
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import audio  # noqa: E402
import dtmf_sip  # noqa: E402
import ports  # noqa: E402
from linphone import Linphone  # noqa: E402

VECTORS = HERE.parent / "vectors"
# (line typed, seconds to wait after it): linphonec sends one key per second
TYPED = (("*#1", 4.0), ("5", 2.0), ("*7", 3.0), ("*", 5.0), ("*#0", 4.0))


def record(work):
    ans = dtmf_sip.Answerer(events=True)
    phone = Linphone(work / "phone", ports.udp_port(), ports.udp_pair(), encryption="none",
                     rfc2833=True)
    try:
        phone.start()
        wav = audio.write_signal(work / "talk.wav", 7, seconds=40)
        phone.play(wav)
        phone.call("sip:box@127.0.0.1:%d" % ans.sip_port)
        deadline = time.monotonic() + 20
        while not ans.established and time.monotonic() < deadline:
            ans.poll(0.1)
        assert ans.established, "linphonec never established the call"
        ans.poll(1.0)
        for line, wait in TYPED:
            phone.dtmf(line)
            ans.poll(wait)
        phone.terminate_call()
        ans.poll(0.5)
    finally:
        phone.stop()
        ans.close()
    packets = [(t, p) for t, p in ans.packets if len(p) >= 12 and p[0] >> 6 == 2]
    return ans.event_pt, packets


def main():
    with tempfile.TemporaryDirectory(prefix="zerotap-keypad-") as d:
        pt, packets = record(Path(d))
    t0 = packets[0][0]
    out = []
    for t, p in packets:
        ms = int(round((t - t0) * 1000))
        if p[1] & 0x7F == pt:
            out.append({"ms": ms, "hex": p.hex()})
        else:
            out.append({"ms": ms, "header": p[:12].hex(), "payload": len(p) - 12})
    doc = {"source": "linphonec (liblinphone/mediastreamer2), RFC 4733 events on, PCMU, keys "
                     "typed during a call to an answerer on loopback",
           "payload_type": pt, "typed": [line for line, _ in TYPED], "packets": out}
    path = VECTORS / "keypad_linphonec_stream.json"
    path.write_text(json.dumps(doc, indent=0) + "\n")
    n_events = sum(1 for x in out if "hex" in x)
    print("%s: %d packets, %d event packets" % (path, len(out), n_events))


if __name__ == "__main__":
    main()
