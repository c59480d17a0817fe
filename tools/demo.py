"""`make demo`: a whole secure call on this machine, on loopback, with proof from the wire.

    linphonec "alice" (plain desk phone, media_encryption=none)
      -> box A (python -m zerotap run)
      -> box B (python -m zerotap run; --micropython: under the MicroPython unix port)
      -> linphonec "bob" (plain desk phone, auto-answer)

It prints both boxes' SAS and algorithms and whether they match, shows what tshark saw (ZRTP
between the boxes, no plaintext RTP there after Conf2ACK, no ZRTP on the phone legs), checks that
each phone heard the other (audio correlation), and exits 0 only when all of that holds.
Everything runs on 127.0.0.1 with free ports, in a scratch directory that is removed at the end
(--keep keeps it).
"""
import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "host_tests" / "cpython"))

import audio  # noqa: E402
import ports  # noqa: E402
from boxproc import BoxProcess  # noqa: E402
from capture import Capture, LegReport, ZRTP_EXCHANGE  # noqa: E402
from linphone import Linphone  # noqa: E402

GREEN = "\033[32m" if sys.stdout.isatty() else ""
RED = "\033[31m" if sys.stdout.isatty() else ""
END = "\033[0m" if sys.stdout.isatty() else ""


def check(ok, text):
    print("  [%s] %s" % ((GREEN + " ok " + END) if ok else (RED + "FAIL" + END), text))
    return bool(ok)


def algorithms(st):
    return "%s %s %s %s %s" % (st["ka"], st["cipher"], st["auth"], st["hash"], st["sas_type"])


def run(work, micropython_b):
    pb_port = ports.udp_port()
    box_a = BoxProcess(work / "boxA", "A")
    box_b = BoxProcess(work / "boxB", "B", interpreter="micropython" if micropython_b else "cpython",
                       phone_contact="sip:bob@127.0.0.1:%d" % pb_port)
    alice = Linphone(work / "alice", ports.udp_port(), ports.udp_pair(), encryption="none",
                     account={"identity": "sip:alice@127.0.0.1", "proxy": box_a.phone_uri,
                              "register": False})
    bob = Linphone(work / "bob", pb_port, ports.udp_pair(), encryption="none", auto_answer=True)
    cap = Capture(work / "demo.pcapng", [alice.rtp_port, alice.rtp_port + 1, bob.rtp_port,
                                         bob.rtp_port + 1],
                  ranges=[box_a.phone_rtp, box_a.network_rtp, box_b.phone_rtp,
                          box_b.network_rtp])
    print("ZeroTap demo: alice (plain) -> box A -> box B%s -> bob (plain), all on 127.0.0.1"
          % (" (MicroPython)" if micropython_b else ""))
    sa = sb = None
    try:
        cap.start()
        box_b.start()
        box_a.start()
        alice.start()
        bob.start()
        wa = audio.write_signal(work / "alice.wav", 1, seconds=6)
        wb = audio.write_signal(work / "bob.wav", 2, seconds=6)
        alice.play(wa)
        bob.play(wb)
        alice.record(work / "alice_heard.wav")
        bob.record(work / "bob_heard.wav")
        print("calling sip:bob@%s ..." % box_b.network_hostport)
        alice.call("sip:bob@%s" % box_b.network_hostport)
        sa = box_a.wait_secure(30)
        sb = box_b.wait_secure(30)
        print("both boxes SECURE; talking for 4 s ...")
        time.sleep(4)
        alice.terminate_call()
        alice.wait_ended()
    finally:
        for thing in (alice, bob, box_a, box_b, cap):
            try:
                thing.stop()
            except Exception as e:
                print("stopping %r: %r" % (thing, e))

    print("\nbox A: SAS %-6s %s  cache %s  peer ZID %s" % (sa["sas"], algorithms(sa), sa["cache"],
                                                         sa["peer_zid"]))
    print("box B: SAS %-6s %s  cache %s  peer ZID %s" % (sb["sas"], algorithms(sb), sb["cache"],
                                                         sb["peer_zid"]))
    ok = True
    ok &= check(sa["sas"] == sb["sas"], "the SAS match: read '%s' to each other" % sa["sas"])
    ok &= check(algorithms(sa) == algorithms(sb), "the algorithms match")

    pkts = cap.packets(media_ports=[box_a.phone_rtp, box_a.network_rtp, box_b.phone_rtp,
                                    box_b.network_rtp, alice.rtp_port, alice.rtp_port + 1,
                                    bob.rtp_port, bob.rtp_port + 1])
    lo_a, hi_a = box_a.network_rtp
    lo_b, hi_b = box_b.network_rtp

    def between_boxes(p):
        return (p.src is not None and p.dst is not None and
                (lo_a <= p.src <= hi_a and lo_b <= p.dst <= hi_b or
                 lo_b <= p.src <= hi_b and lo_a <= p.dst <= hi_a))

    report = LegReport(pkts, (alice.rtp_port, alice.rtp_port + 1, bob.rtp_port, bob.rtp_port + 1),
                       between_boxes)
    print("\nOn the wire (tshark, %d packets): %r" % (len(pkts), report))
    ok &= check(report.complete_exchange(),
                "ZRTP between the boxes: %s" % " ".join(t for t in ZRTP_EXCHANGE
                                                        if t in report.zrtp_network))
    ok &= check(report.srtp > 100 and report.plain_after == 0,
                "no plaintext RTP between the boxes after Conf2ACK (%d SRTP packets checked "
                "against their plain twins on the phone legs)" % report.srtp)
    ok &= check(report.srtp_before == 0, "no SRTP before the ZRTP exchange")
    ok &= check(report.zrtp_phone == 0, "no ZRTP on the phone legs")
    got_b = audio.correlation(work / "bob_heard.wav", wa)
    got_a = audio.correlation(work / "alice_heard.wav", wb)
    ok &= check(got_b > 0.9, "bob heard alice (correlation %.3f)" % got_b)
    ok &= check(got_a > 0.9, "alice heard bob (correlation %.3f)" % got_a)
    print("\n%s" % ("DEMO PASSED: the call was secure end to end" if ok else "DEMO FAILED"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--micropython", action="store_true", help="run box B under MicroPython")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zerotap-demo-"))
    try:
        return run(work, args.micropython)
    except AssertionError as e:
        print("DEMO FAILED: %s" % e)
        return 1
    finally:
        if args.keep:
            print("files kept in %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
