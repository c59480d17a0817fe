"""One stream client run, under either interpreter (the TLS tests and bench_tls start it).

    micropython stream_client.py HOST PORT SERVER_NAME CAFILE MESSAGES [KEEPALIVE_MS]

Connects over TLS (CAFILE given) or TCP (CAFILE ``-``) with zerotap.runtime.stream, sends
MESSAGES (a file of SIP messages, each sent once the previous answer came), and prints one JSON
line: the events in order (``open``, ``message`` with its length and first line, ``closed`` with
the reason), the milliseconds to open and in all, and (MicroPython) the heap that the connection
held once open (``gc.mem_free`` before connect minus after the handshake, after a collection).
"""
import gc
import json
import sys

from zerotap.runtime import stream, udp


def main(argv):
    host, port, name, cafile, messages = argv[:5]
    keepalive = int(argv[5]) if len(argv) > 5 else None
    with open(messages, "rb") as f:
        data = f.read()
    msgs = [m for m in data.split(b"\x00\x00") if m]
    loop = udp.Loop()
    streams = stream.Streams(loop)
    ctx = stream.client_context(cafile=cafile) if cafile != "-" else None
    events = []
    state = {"next": 0, "heap": None, "open_ms": None}
    gc.collect()
    free0 = gc.mem_free() if hasattr(gc, "mem_free") else None
    t0 = loop.clock()

    def handler(conn, kind, payload, now):
        if kind == stream.OPEN_EVENT:
            events.append(["open"])
            state["open_ms"] = now - t0
            if free0 is not None:
                gc.collect()
                state["heap"] = free0 - gc.mem_free()
        elif kind == stream.MESSAGE:
            line = payload.split(b"\r\n", 1)[0].decode()
            events.append(["message", len(payload), line])
            if state["next"] < len(msgs):
                conn.send(msgs[state["next"]])
                state["next"] += 1
            else:
                loop.stop()
        elif kind == stream.CLOSED_EVENT:
            events.append(["closed", payload])
            loop.stop()

    c = streams.connect(host, int(port), handler, tls=ctx, server_name=name,
                        keepalive_ms=keepalive)
    if msgs:
        c.send(msgs[0])
        state["next"] = 1

    class Deadline:
        def timer(self):
            return t0 + 15000

        def handle_timer(self, now):
            events.append(["deadline"])
            loop.stop()
    loop.run(Deadline())
    total = loop.clock() - t0
    streams.close_all()
    loop.close_all()
    print(json.dumps({"events": events, "open_ms": state["open_ms"], "total_ms": total,
                      "heap": state["heap"]}))


main(sys.argv[1:])
