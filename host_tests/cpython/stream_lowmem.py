"""A stream listener on a heap nearly full (the board's: 112 KiB, much of it taken by the box),
run under MicroPython by test_stream_memory.py: ``stream_lowmem.py PORT FREE`` fills the heap
with ballast until FREE bytes are left, prints ``listening``, then serves for a few seconds and
prints what its handler sees (``message N``, ``closed REASON``) and ``done``."""
import gc
import sys

from zerotap.runtime import stream, udp

port, free = int(sys.argv[1]), int(sys.argv[2])
loop = udp.Loop()
streams = stream.Streams(loop)


def handler(conn, kind, data, now):
    if kind == stream.MESSAGE:
        print("message %d" % len(data))
    elif kind == stream.CLOSED_EVENT:
        print("closed " + data)


lst = streams.listen("127.0.0.1", port, handler)
ballast = []
gc.collect()
while gc.mem_free() > free and len(ballast) < 400000:  # 100 MB at most: a heap that grows
    ballast.append(bytearray(256))
print("listening" if gc.mem_free() <= free else "the heap grows: %d free" % gc.mem_free())
t0 = loop.clock()
while loop.clock() - t0 < 6000:
    loop.run_once(50)
    loop.serve_timers()
print("done")
