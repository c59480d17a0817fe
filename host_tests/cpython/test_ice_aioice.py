"""Our ICE agent against aioice (PyPI, an independent asyncio ICE agent) over real UDP sockets on
127.0.0.1, in both roles: a pair is nominated and data flows both ways. aioice nominates
aggressively when controlling; ours nominates regularly."""
import asyncio
import time

import aioice
from icepeers import OurPeer, aioice_on_loopback, from_sdp, to_sdp

from zerotap.ice import agent as ice


async def _session(our_controlling):
    aioice_on_loopback()
    far = aioice.Connection(ice_controlling=not our_controlling, components=1, use_ipv6=False)
    await far.gather_candidates()
    ours = OurPeer(our_controlling)
    try:
        far.remote_username = ours.agent.ufrag
        far.remote_password = ours.agent.pwd
        for c in ours.candidates():
            await far.add_remote_candidate(aioice.Candidate.from_sdp(c))
        await far.add_remote_candidate(None)
        ours.connect(far.local_username, far.local_password,
                     [c.to_sdp() for c in far.local_candidates])
        await asyncio.wait_for(far.connect(), 10)
        deadline = time.monotonic() + 5
        while ours.agent.selected is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert ours.agent.selected is not None, ours.driver.events
        sel = ours.agent.selected
        assert sel.nominated
        assert sel.remote.addr == (far.local_candidates[0].host, far.local_candidates[0].port)
        # data both ways: aioice pings, ours answers; ours sends on its own too
        await far.send(b"ping 1")
        got = await asyncio.wait_for(far.recv(), 5)
        assert got == b"pong 1"
        ours.send(b"hello from zerotap")
        got = await asyncio.wait_for(far.recv(), 5)
        assert got == b"hello from zerotap"
        assert ours.got == [b"ping 1"]
        return ours, far
    finally:
        ours.close()
        await far.close()


def test_aioice_controlled():
    ours, far = asyncio.run(_session(True))
    assert ours.agent.controlling and not far.ice_controlling


def test_aioice_controlling_aggressive():
    ours, far = asyncio.run(_session(False))
    assert not ours.agent.controlling and far.ice_controlling


def test_sdp_candidate_round_trip():
    c = ice.Candidate(ice.SRFLX, ("203.0.113.5", 41000), 1694498815, "Sc0a80a05",
                      base=("10.0.0.2", 5000), related=("10.0.0.2", 5000))
    a = aioice.Candidate.from_sdp(to_sdp(c))
    assert (a.type, a.host, a.port, a.priority, a.foundation, a.related_address,
            a.related_port) == ("srflx", "203.0.113.5", 41000, 1694498815, "Sc0a80a05",
                                "10.0.0.2", 5000)
    b = from_sdp(a.to_sdp())
    assert (b.type, b.addr, b.priority, b.foundation) == (c.type, c.addr, c.priority,
                                                          c.foundation)
