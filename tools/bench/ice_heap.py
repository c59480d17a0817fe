"""MicroPython side of bench_ice.py: heap (gc.mem_alloc) per ICE agent with a TURN allocation.

    micropython tools/bench/ice_heap.py TURN_HOST TURN_PORT USER PASSWORD PORT1 PORT2 ...

It makes one agent per port (pairs: agents 2i and 2i+1 talk to each other), each gathering a
relayed candidate from the TURN server, connects every pair over loopback, and prints
``HEAP <bytes in use before> <bytes in use after> <agents>`` with everything still alive.
"""
import gc
import os
import sys

import zerotap  # noqa: F401
from zerotap.ice import agent as ice
from zerotap.runtime import ice as rt
from zerotap.runtime import udp


def main(argv):
    server = (argv[1], int(argv[2]))
    user, password = argv[3], argv[4]
    ports = [int(p) for p in argv[5:]]
    loop = udp.Loop()
    gc.collect()
    before = gc.mem_alloc()
    drivers = []
    for i in range(len(ports)):
        a = ice.Agent(i % 2 == 0, os.urandom, turn=(server, user, password))
        d = rt.Driver(loop, "127.0.0.1", ports[i], a)
        a.gather([("127.0.0.1", ports[i])], loop.clock())
        d.flush(loop.clock())
        drivers.append(d)
    ok = rt.run(loop, drivers, lambda: all(d.event("gathered") for d in drivers), 10000)
    if not ok:
        print("ERROR gathering")
        return 1
    for d in drivers:
        if not [c for c in d.core.local_candidates() if c.type == ice.RELAY]:
            print("ERROR no relayed candidate", d.events)
            return 1
    for i in range(0, len(drivers), 2):
        a, b = drivers[i].core, drivers[i + 1].core
        a.set_remote(b.ufrag, b.pwd, b.local_candidates())
        b.set_remote(a.ufrag, a.pwd, a.local_candidates())
        a.start(loop.clock())
        b.start(loop.clock())
        drivers[i].flush(loop.clock())
        drivers[i + 1].flush(loop.clock())
    ok = rt.run(loop, drivers, lambda: all(d.core.selected is not None for d in drivers), 10000)
    if not ok:
        print("ERROR connecting")
        return 1
    rt.run(loop, drivers, lambda: False, 300)  # let the checks settle
    gc.collect()
    after = gc.mem_alloc()
    print("HEAP %d %d %d" % (before, after, len(drivers)))
    for d in drivers:
        d.core.close(loop.clock())
        d.flush(loop.clock())
    rt.run(loop, drivers, lambda: False, 200)
    return 0


sys.exit(main(sys.argv))
