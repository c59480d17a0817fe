"""An ICE agent under the MicroPython unix port, for test_ice_micropython.py:

    micropython mp_ice_peer.py PORT CONTROLLING REMOTE_OFFER_FILE [TURN_HOST TURN_PORT USER PWD]

It binds 127.0.0.1:PORT, gathers (with a relay-only TURN allocation when a TURN server is
given), prints its offer as one line of ZSipOs offer JSON, reads the far offer from
REMOTE_OFFER_FILE once that file exists, connects, answers b"ping..." with b"pong...", sends
b"hello from micropython" once, and prints ``SELECTED <local type> <remote type>`` and
``GOT <payload>`` lines. It ends after 15 s.
"""
import os
import sys

import zerotap  # noqa: F401
from zerotap.ice import agent as ice
from zerotap.ice import offer
from zerotap.runtime import ice as rt
from zerotap.runtime import udp


def main(argv):
    port = int(argv[1])
    controlling = argv[2] == "1"
    remote_file = argv[3]
    kw = {}
    if len(argv) > 4:
        kw["turn"] = ((argv[4], int(argv[5])), argv[6], argv[7])
        kw["relay_only"] = True
    loop = udp.Loop()
    agent = ice.Agent(controlling, os.urandom, **kw)
    state = {"started": False, "hello": False}

    def on_data(payload):
        print("GOT", bytes(payload).decode())
        if payload.startswith(b"ping"):
            agent.send(b"pong" + payload[4:], loop.clock())

    d = rt.Driver(loop, "127.0.0.1", port, agent, on_data=on_data)
    agent.gather([("127.0.0.1", port)], loop.clock())
    d.flush(loop.clock())
    if not rt.run(loop, [d], lambda: d.event("gathered"), 5000):
        print("ERROR gathering", d.events)
        return 1
    print("OFFER", offer.to_json(agent.ufrag, agent.pwd, agent.local_candidates(),
                                 agent.default_candidate()))

    def step():
        if not state["started"]:
            try:
                with open(remote_file) as f:
                    text = f.read()
            except OSError:
                return False
            if not text.endswith("\n"):
                return False
            ufrag, pwd, cands = offer.from_json(text)
            agent.set_remote(ufrag, pwd, cands)
            agent.start(loop.clock())
            d.flush(loop.clock())
            state["started"] = True
        if agent.selected is not None and not state["hello"]:
            state["hello"] = True
            print("SELECTED", ice.TYPE_NAMES[agent.selected.local.type],
                  ice.TYPE_NAMES[agent.selected.remote.type])
            agent.send(b"hello from micropython", loop.clock())
            d.flush(loop.clock())
        return agent.state == ice.FAILED_STATE

    rt.run(loop, [d], step, 15000, max_wait_ms=20)
    print("END", ice.STATE_NAMES[agent.state])
    agent.close(loop.clock())
    d.flush(loop.clock())
    return 0


sys.exit(main(sys.argv))
