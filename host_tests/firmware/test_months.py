"""A box up for weeks and months without a reset, sans-IO (so also on the board32 rig, a 32-bit
board with 112 KiB of heap, where ints from 2**30 up are heap objects): what grows with time and
must not. The clock the loop hands out (milliseconds since boot that never wrap: runtime/udp.py's
Clock) passes 2**30 after 12.4 days, 2**31 after 24.9 and 2**32 after 49.7: a secure call made
then goes SECURE by the same timers, relays every packet and holds no more heap after its packets
than at boot. The Box itself (sockets) is in test_months_box.py."""
import gc

from test_heap_budget import NET, PHONE, _configs, _exchange, _phone_packet, _relay_buffers, _Side

DAY_MS = 86400 * 1000
# up a minute; 13 days (past 2**30 ms), 25 days (past 2**31), 50 days (past 2**32)
UPTIMES = (60000, 13 * DAY_MS, 25 * DAY_MS, 50 * DAY_MS)


def _secure_call(t0):
    """One call between two boxes made SECURE by their real engines, their clocks at T0 when it
    starts; returns (a, b, ms it took, ZRTP packets exchanged)."""
    from zerotap import media, status
    ca, cb = _configs("X255")
    a = _Side(status.BoxStatus(), ca, 0x1000, "b")
    b = _Side(status.BoxStatus(), cb, 0x2000, "a")
    # the first Hellos are lost, sent again by the engines' timers
    took, packets = _exchange(media, a, b, t0, lost=2)
    assert a.session.secure.is_secure and b.session.secure.is_secure, "not SECURE at %d ms" % t0
    assert a.call.sas == b.call.sas
    return a, b, took, packets


def _relay(a, b, t0, first, packets, bufs, counts):
    """PACKETS RTP packets (one RTCP report in ten) from each phone through both boxes, the
    clocks at T0 + 20 ms a packet, the sessions' timers served; COUNTS[0] += those that reached
    the far phone. Returns (bytes allocated, bytes still held after a collection): MicroPython,
    the collector off for ten packets at a time (a board's heap holds no more garbage); (0, 0)
    elsewhere."""
    from zerotap import media
    rtp, rtcp, wire, now = bufs
    rtcp_from = (PHONE[0], PHONE[1] + 1)
    measure = getattr(gc, "mem_alloc", None)
    allocated = [0]
    gc.collect()
    start = measure() if measure else 0
    for near, far, addr in ((a, b, NET[0]), (b, a, NET[1])):
        def to_net(leg, buf, n, far=far, addr=addr):
            wire[:n] = memoryview(buf)[:n]
            far.session.receive(media.NET_RTCP if leg == media.NET_RTCP else media.NET_RTP, wire, n, addr,
                                now[2])

        def to_phone(leg, buf, n):
            counts[0] += 1
        near.relay = to_net
        far.relay = to_phone
        seq = first
        while seq < first + packets:
            if seq % 10 == 0:
                gc.collect()
                gc.disable()
                before = measure() if measure else 0
            now[2] = t0 + 20 * seq
            _phone_packet(media, near, far, seq, now[2], rtp, rtcp, rtcp_from)
            seq += 1
            if seq % 10 == 0:
                if measure:
                    allocated[0] += measure() - before
                gc.enable()
        near.relay = far.relay = None
    gc.enable()
    gc.collect()
    return allocated[0], (measure() - start) if measure else 0


def test_a_secure_call_after_weeks_up_runs_as_after_boot():
    bufs = _relay_buffers()
    first = None
    for up in UPTIMES:
        a, b, took, zrtp = _secure_call(up)
        # the same timers fired in the same order: the same time to SECURE, the same packets
        assert (took, zrtp) == (first or (took, zrtp))[:2], (up, took, zrtp, first)
        counts = [0]
        t0 = up + took + 1000
        _relay(a, b, t0, 0, 20, bufs, counts)  # the first packets settle the SRTP contexts
        allocated, held = _relay(a, b, t0, 20, 100, bufs, counts)
        assert counts[0] == 2 * (120 + 12), (up, counts[0])
        print("up %d days: SECURE in %d ms (%d ZRTP packets); 200 RTP packets and 20 RTCP allocated %d "
              "bytes and hold %d" % (up // DAY_MS, took, zrtp, allocated, held))
        if first is None:
            first = (took, zrtp, allocated)
        # no growth per packet: one GC block (16 bytes on 32 bits) kept per packet would hold
        # 3,520 bytes; what is held is the driver's closures and what the conservative GC kept
        assert held < 1024, "220 packets up %d days hold %d bytes" % (up // DAY_MS, held)
        # the clock's values are heap ints past 2**30 on 32 bits: measured on the rig, 29 bytes
        # more per packet than at boot (196,480 and 190,080 for the 220), garbage at once
        assert allocated <= first[2] + first[2] // 20, (up, allocated, first)
        a = b = None
        gc.collect()


def _nat_register(p, i, public):
    """The phone's REGISTER number I through the box, and the registrar's 200 OK saying it saw the
    box from PUBLIC (received/rport on the box's Via: the router mapped it there)."""
    from zerotap.sip import message, proxy
    reg = ("REGISTER sip:127.0.0.1:5070 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKr%d;rport\r\n"
           "From: <sip:alice@sip.example.test>;tag=r1\r\nTo: <sip:alice@sip.example.test>\r\n"
           "Call-ID: reg-1\r\nCSeq: %d REGISTER\r\nMax-Forwards: 70\r\n"
           "Contact: <sip:alice@127.0.0.1:5062>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n" % (i, i)).encode()
    out = p.receive(proxy.PHONE, reg, ("127.0.0.1", 5062), 1000 * i)
    assert len(out) == 1, out
    msg = message.parse(out[0][1])
    resp = message.make_response(msg, 200, "OK")
    via = resp.vias()[0]
    via.set_param("received", public[0])
    via.set_param("rport", str(public[1]))
    resp.set("Via", [str(via)] + resp.get_all("Via")[1:])
    resp.set("Contact", "<sip:alice@%s:%d>;expires=300" % public)
    back = p.receive(proxy.NETWORK, resp.serialize(), ("192.0.2.10", 5060), 1000 * i + 50)
    assert len(back) == 1 and back[0][2] == ("127.0.0.1", 5062), back  # the phone has its 200


def test_a_nat_that_maps_the_box_anew_each_day_costs_no_heap_over_months():
    # A router that gives the box a new public address every day (a DSL line reconnected each
    # night, a carrier NAT's new port): the registrar's answers tell the box (RFC 3581), and the
    # box takes responses sent to its recent public addresses as its own. Each change kept two
    # more addresses for good: a board's heap ran out within the year.
    from support import heap_done, heap_used
    from zerotap import config, status
    from test_proxy_core import FakeFactory
    from zerotap.sip import proxy
    p = proxy.Proxy(config.parse({
        "phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"], "rtp": "40000-40099"},
        "network": {"sip": "10.0.0.2:5080", "rtp": "42000-42099", "proxy": "192.0.2.10:5060"}}),
        FakeFactory(), status.BoxStatus(), lambda text: None)
    day = 0
    try:
        heap_used()  # (CPython: the tracing starts here; what was made before is not counted)
        while day < 30:
            day += 1
            _nat_register(p, day, ("203.0.%d.%d" % (day // 200, day % 200 + 1), 40000 + day))
        before = heap_used()
        while day < 150:
            day += 1
            _nat_register(p, day, ("203.0.%d.%d" % (day // 200, day % 200 + 1), 40000 + day))
        grown = heap_used() - before
    finally:
        heap_done()
    assert p.nat.public == ("203.0.0.151", 40150)
    # the latest address is still the box's own (a late response to it is taken)
    assert ("203.0.0.151", 40150) in p.public_seen
    assert grown < 2048, "120 days of new public addresses kept %d bytes" % grown


def test_the_trust_cache_counts_a_week_without_a_call_past_small_ints():
    # the box hands the trust cache's clock its loop clock (test_months_box.py): here the clock
    # is past 2**30 ms (13 days up) when the entry is stored and 8 days later when it is read;
    # its 7 days to live are over
    from zerotap.zrtp import cache as zcache
    ms = [13 * DAY_MS]
    c = zcache.Cache(None, ticks=(lambda: 0, lambda a, b: a - b))
    c.clock.follow(lambda: ms[0])
    peer = bytes(range(1, 13))
    assert c.store(peer, bytes(32), 7 * 86400)
    ms[0] += 6 * DAY_MS
    assert c.get(peer) is not None
    ms[0] += 2 * DAY_MS
    assert c.get(peer) is None
