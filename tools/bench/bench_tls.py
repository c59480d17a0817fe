"""TLS for SIP: a handshake and one SIP message over TLS, with zerotap's stream layer on both
interpreters, against CPython's ``ssl`` doing the same in the same run (the anchor), all toward
one CPython ``ssl`` server on loopback with a P-256 certificate from a CA made for the run.

- handshake: TCP connect + TLS handshake, median of ROUNDS connections (ms);
- message: a ~1 KB SIP OPTIONS out and a 200 OK with the same body back, on the open connection;
- heap: what one open TLS connection holds on the MicroPython unix port: the MicroPython heap
  (Python objects) plus the C heap where the unix port's mbedTLS allocates (growth of the
  process's [heap] mapping at its peak over the handshake; page-granular, so an upper bound).
  TARGET: at most 40 KB per TLS connection (an ESP32 without PSRAM has about 100 KB in all).
  On an ESP32, mbedTLS allocates from ESP-IDF's heap, outside MicroPython's: the board figure
  must be measured there (docs/transports.md).
"""
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "host_tests" / "cpython"))
from testca import TestCA  # noqa: E402
from tlsserver import SipTlsServer  # noqa: E402

ROUNDS = 15
NAME = "sip.example.test"
HEAP_TARGET = 40 * 1024
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"
CLIENT = ROOT / "tools" / "bench" / "tls_stream_client.py"


def _message():
    body = b"v=0\r\n" + b"a=rtpmap:0 PCMU/8000\r\n" * 40
    return (b"OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bK1\r\n"
            b"Call-ID: bench\r\nCSeq: 1 OPTIONS\r\nContent-Type: application/sdp\r\n"
            b"Content-Length: %d\r\n\r\n" % (NAME.encode(), len(body)) + body)


def _anchor(port, cafile, message):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(cafile))
    opens, trips = [], []
    for _ in range(ROUNDS):
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", port))
        t = ctx.wrap_socket(s, server_hostname=NAME)
        t1 = time.monotonic()
        t.sendall(message)
        got = b""
        while len(got) < len(message) - 60 or b"\r\n\r\n" not in got:
            d = t.recv(4096)
            if not d:
                break
            got += d
            head = got.split(b"\r\n\r\n", 1)
            if len(head) == 2 and b"Content-Length: " in head[0]:
                n = int(head[0].split(b"Content-Length: ")[1].split(b"\r\n")[0])
                if len(head[1]) >= n:
                    break
        t2 = time.monotonic()
        t.close()
        opens.append((t1 - t0) * 1000)
        trips.append((t2 - t1) * 1000)
    return opens, trips


def _client(cmd, env, port, cafile, msgfile):
    out = subprocess.run(cmd + [str(CLIENT), str(port), NAME, str(cafile), str(ROUNDS),
                                str(msgfile)], capture_output=True, text=True, env=env,
                         timeout=300)
    if out.returncode != 0:
        raise SystemExit("bench_tls: client failed: %s" % out.stderr[-2000:])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if "error" in res:
        raise SystemExit("bench_tls: client failed: %s" % res["error"])
    return res


def main():
    if not MICROPYTHON.exists():
        raise SystemExit("bench_tls: %s missing (make setup)" % MICROPYTHON)
    with tempfile.TemporaryDirectory() as tmp:
        ca = TestCA(Path(tmp) / "ca")
        key, cert = ca.issue(NAME)
        srv = SipTlsServer(cert, key).start()
        msgfile = Path(tmp) / "message.bin"
        message = _message()
        msgfile.write_bytes(message)
        try:
            a_open, a_trip = _anchor(srv.port, ca.pem, message)
            cp = _client([sys.executable], dict(os.environ, PYTHONPATH=str(ROOT / "firmware")),
                         srv.port, ca.pem, msgfile)
            mp = _client([str(MICROPYTHON)], dict(os.environ, MICROPYPATH=str(ROOT / "firmware")
                                                  + ":.frozen"), srv.port, ca.pem, msgfile)
        finally:
            srv.stop()
    med = statistics.median
    print("message: %d bytes of SIP, the answer as long; %d connections each; server: CPython ssl,"
          " P-256 certificate" % (len(message), ROUNDS))
    print("negotiated: zerotap on CPython %s; on MicroPython %s" % (cp.get("cipher"),
                                                                    mp.get("cipher")))
    print("handshake (connect + TLS) median: CPython ssl (anchor) %.1f ms, zerotap stream on "
          "CPython %.1f ms, on MicroPython %.1f ms" % (med(a_open), med(cp["open_ms"]),
                                                      med(mp["open_ms"])))
    print("SIP message round trip over TLS median: CPython ssl (anchor) %.2f ms, zerotap stream "
          "on CPython %.1f ms, on MicroPython %.1f ms (the loop's clock counts whole ms)"
          % (med(a_trip), med(cp["trip_ms"]), med(mp["trip_ms"])))
    total = mp["gc_heap"] + mp["c_heap"]
    print("MicroPython, one open TLS connection: MicroPython heap %d B + C heap (mbedTLS) %d B "
          "= %d B" % (mp["gc_heap"], mp["c_heap"], total))
    print("TARGET heap per TLS connection (MicroPython unix port): %.1f KB (target <= %d KB) %s"
          % (total / 1024, HEAP_TARGET // 1024, "met" if total <= HEAP_TARGET else "MISSED"))


if __name__ == "__main__":
    main()
