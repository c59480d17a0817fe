"""bench_tls's client, under either interpreter: ROUNDS TLS connections with zerotap's stream
layer, each a handshake then one SIP message and its answer.

    micropython tls_stream_client.py PORT SERVER_NAME CAFILE ROUNDS MESSAGE_FILE

Prints one JSON line: per round the milliseconds to open (TCP connect + TLS handshake) and of
the message's round trip; and, measured on the first round, the memory one open connection
holds: ``gc_heap`` (Python objects: ``gc.mem_alloc`` after a collection, once open, minus
before the context was made) and ``c_heap`` (the C heap, where the unix port's mbedTLS
allocates: the growth of the process's ``[heap]`` mapping, from /proc/self/smaps, Rss, at its
peak over the handshake).
"""
import gc
import json
import sys

from zerotap.runtime import stream, udp


def heap_rss_kb():
    try:
        with open("/proc/self/smaps") as f:
            inside = False
            for line in f:
                if line.endswith("[heap]\n"):
                    inside = True
                    continue
                if inside and line.startswith("Rss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv):
    port, name, cafile, rounds, msgfile = argv[0], argv[1], argv[2], int(argv[3]), argv[4]
    with open(msgfile, "rb") as f:
        message = f.read()
    loop = udp.Loop()
    streams = stream.Streams(loop)
    opens, trips = [], []
    mem = {}
    for r in range(rounds):
        gc.collect()
        first = r == 0
        if first:
            alloc0 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
            rss0 = heap_rss_kb()
        ctx = stream.client_context(cafile=cafile)
        st = {"t0": loop.clock(), "open": None, "done": None, "peak": 0}

        def handler(conn, kind, data, now, st=st):
            if kind == stream.OPEN_EVENT:
                st["open"] = now  # the message, queued at connect, is written as it opens
                try:
                    mem["cipher"] = str(conn.io.cipher())
                except Exception:  # noqa: BLE001 (a TLS socket without cipher())
                    mem["cipher"] = None
            elif kind == stream.MESSAGE:
                st["done"] = now
                loop.stop()
            elif kind == stream.CLOSED_EVENT:
                st["error"] = data
                loop.stop()

        c = streams.connect("127.0.0.1", int(port), handler, tls=ctx, server_name=name)
        c.send(message)

        class Watch:
            def timer(self):
                return loop.clock() + 2 if first else st["t0"] + 10000

            def handle_timer(self, now):
                if first:
                    st["peak"] = max(st["peak"], heap_rss_kb())
                if now > st["t0"] + 10000:
                    loop.stop()
        loop.run(Watch())
        if st.get("error") or st["done"] is None:
            print(json.dumps({"error": st.get("error", "timeout")}))
            return
        if first:
            gc.collect()
            mem["gc_heap"] = (gc.mem_alloc() - alloc0) if hasattr(gc, "mem_alloc") else None
            mem["c_heap"] = (max(st["peak"], heap_rss_kb()) - rss0) * 1024
        opens.append(st["open"] - st["t0"])
        trips.append(st["done"] - st["open"])
        c.close()
        del ctx
    streams.close_all()
    loop.close_all()
    out = {"open_ms": opens, "trip_ms": trips}
    out.update(mem)
    print(json.dumps(out))


main(sys.argv[1:])
