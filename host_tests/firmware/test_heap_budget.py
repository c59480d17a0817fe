"""The box's heap budget (boards/README.md "Heap budget", docs/heap.md), checked on both builds:
on a 32-bit board (the board32 rig, frozen firmware) against the budget itself, on the 64-bit unix
port against the budget scaled by the factor measured between the two for the same objects (1.72
for a SECURE call, its engine, an ICE agent; 1.42 for an SRTP session). Module imports cost the
unix port their bytecode too: they are checked on the rig only. And the largest allocation after
boot: two SECURE calls' media path and timers on a heap cut into holes of the limit. CPython has
no gc.mem_alloc: there the tests only run the code."""
import gc
import sys

FACTOR_64 = 1.42  # unix port (64-bit) / rv32 heap for the same runtime objects (docs/heap.md)
SRTP_SESSION_32 = 3072  # bytes: one srtp.Session with its RTP and RTCP transforms, one packet done


def _scaled(budget):
    return int(budget * FACTOR_64) if sys.maxsize > (1 << 32) else budget


def _used():
    gc.collect()
    return gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0


def test_an_srtp_session_fits_its_budget():
    from zerotap import crypto, srtp
    # the keystream scratch (1.6 KB) is shared by every transform, allocated once at import
    rtp = bytes([0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7]) + bytes(160)
    for name in crypto.backends():
        if name != crypto.BACKEND:  # the budget is the board's: the backend in use
            continue
        before = _used()
        tx = srtp.Session(srtp.AES_CM_128_HMAC_SHA1_80, bytes(16), bytes(14))
        packet = tx.protect(rtp)
        grown = _used() - before
        assert len(packet) == len(rtp) + 10
        if hasattr(gc, "mem_alloc"):
            assert grown <= _scaled(SRTP_SESSION_32), \
                "an SRTP session holds %d bytes (budget %d)" % (grown, _scaled(SRTP_SESSION_32))


# --- the engine lets go once SECURE (issue 19) ---------------------------------------------------

ENGINE_SECURE_32 = 2560  # bytes: one engine SECURE with X25519, what it still holds on 32 bits (rv32: 1,936; the unix port: 7,104 before it let go, 3,488 after)


_CONFIGS = {}


def _configs(ka):
    """One engine Config per policy, shared by every call as the box shares its one
    (runtime/secure.py): the initiator's and the responder's."""
    if ka not in _CONFIGS:
        from zerotap.zrtp import algorithms, engine as E
        offer = algorithms.Offer(key_agreements=(ka,))
        _CONFIGS[ka] = (E.Config(offer=offer), E.Config(offer=offer, initiate=False))
    return _CONFIGS[ka]


def _secure_pair(ka="X255", log=None):
    """Two engines made SECURE by a real exchange (A initiates); LOG collects (sender, packet)."""
    from zerotap.zrtp import engine as E
    ca, cb = _configs(ka)
    a = E.Engine(0x0A0A0A0A, config=ca)
    b = E.Engine(0x0B0B0B0B, config=cb)
    a.start(0)
    b.start(0)
    for _ in range(200):
        moved = False
        for src, dst in ((a, b), (b, a)):
            for p in src.datagrams_to_send():
                moved = True
                if log is not None:
                    log.append((src, p))
                dst.receive(p, 0)
            while src.busy:
                src.handle_timer(0)
                moved = True
        if not moved:
            break
    assert a.state == E.SECURE and b.state == E.SECURE, (a.state, b.state)
    for x in (a, b):
        while x.next_event() is not None:
            pass
    return a, b


def _type(packet):
    from zerotap.zrtp import packets
    return packets.message_type(packets.unframe(packet)[2])


def test_a_secure_engine_keeps_no_messages():
    # the hash chain (4 x 32 bytes) stays: a fork of the same offer made later shares it
    # (Engine.share_hello, test_zrtp_engine.py)
    a, b = _secure_pair()
    for x in (a, b):
        held = [n for n in ("_hello", "_peer_hello", "_commit", "_peer_commit", "_dhpart", "_peer_dhpart",
                            "_confirm", "_peer_confirm_raw", "_s1", "_context", "_keypair")
                if getattr(x, n) is not None]
        assert held == [], "a SECURE %s still holds %s" % (x.role, held)
        assert x._stashed_confirm1 == [] and x._rtx.message is None
    # what SECURE still needs stays: the SAS, the keys of GoClear/SASrelay, the Hello hash for the SDP
    assert a.sas == b.sas and a._keys.mackeyr is not None and a.hello_hash().startswith("1.10 ")


def test_late_repeats_after_secure_are_still_told_apart():
    from zerotap.zrtp import packets
    log = []
    a, b = _secure_pair(log=log)
    theirs = {}
    for src, p in log:
        theirs.setdefault((src is a, _type(p)), p)
    # the responder answers a repeated Confirm2 (its Conf2ACK was lost) from the digest it kept
    b.receive(theirs[(True, packets.CONFIRM2)], 10)
    assert [_type(p) for p in b.datagrams_to_send()] == [packets.CONF2ACK]
    # repeats of the peer's Hello and DHPart1 are ignored quietly, as the state table says
    dropped = a.dropped
    a.receive(theirs[(False, packets.HELLO)], 10)
    a.receive(theirs[(False, packets.DHPART1)], 10)
    assert a.dropped == dropped and a.datagrams_to_send() == []
    # a Hello that differs from the peer's is dropped and counted
    forged = bytearray(theirs[(False, packets.HELLO)])
    a.receive(packets.frame(7, 0x0B0B0B0B, _rehello(bytes(forged))), 12)
    assert a.dropped == dropped + 1
    assert a.state == b.state == "secure"


def _rehello(packet):
    """Another valid Hello message: the peer's with its client id changed and the MAC left as is."""
    from zerotap.zrtp import packets
    msg = bytearray(packets.unframe(packet)[2])
    msg[16] ^= 1  # a byte of the client identifier
    return bytes(msg)


def test_a_secure_engine_fits_its_budget():
    _secure_pair()  # the first exchange imports and makes what every later one shares
    base = _used()
    a, b = _secure_pair()
    both = _used() - base
    print("heap: two SECURE engines hold %d bytes" % both)
    a = b = None
    if hasattr(gc, "mem_alloc"):
        assert both <= 2 * _scaled_call(ENGINE_SECURE_32), \
            "two SECURE engines hold %d bytes (budget 2 x %d)" % (both, _scaled_call(ENGINE_SECURE_32))


# --- the whole box: calls, the ICE fallback, the largest allocation (issue 19) -------------------

# The box's heap budget on 32 bits, frozen firmware (boards/README.md "Heap budget"); measured on
# the board32 rig (rv32, 112 KiB) in brackets
IDLE_MODULES_32 = 64000  # the idle box's 51 modules and the buffers they make at boot [63,680; 63,568 before the ninth round's mends, 62,880 before the eighth round's; 61,056 before forking and the cache on flash]
IDLE_OBJECTS_32 = 7168  # the idle box's objects: config, status, proxy, loop, ZRTP factory, key pool [8,640 on the unix port]
CALL_32 = 8192  # per SECURE call: media session, ZRTP leg and engine, two SRTP sessions, status [8,028; 7,972 before the ninth round]
CACHE_32 = 1024  # the trust cache's RAM, whatever its size (records on flash; 608 on the unix port)
ICE_MODULES_32 = 18176  # one ICE fallback's modules: ice.*, runtime.fallback/ice/http, the DTMF parts [18,048; 17,984 before the ninth round's mends, 17,840 before the eighth round's]
ICE_32 = 3840  # one ICE agent that gathered, checked and selected a pair [2,656]
TOTAL_32 = 112 * 1024  # what an ESP32 without PSRAM leaves MicroPython
LARGEST_32 = 128  # bytes: the holes the heap is cut into for the largest-allocation tests (x2 on the unix port)
SLACK_BLOCKS = 4  # GC blocks a hole may grow by while the cut is checked (late-freed garbage)
PROVEN_32 = 4 * LARGEST_32  # bytes: the largest allocation after boot the tests prove on a board (512)
FACTOR_CALL_64 = 1.72  # unix port / rv32 for a SECURE call (13,176 / 7,680; engines 1.80, ICE agent 1.79)

PHONE = ("10.0.0.2", 4000)
NET = (("192.0.2.1", 42000), ("192.0.2.2", 43000))


class _Side:
    """One box's end of one call, as runtime/box.py and runtime/secure.py make it: a media
    session with its ZRTP leg (the engine with the box's one shared Config) and call status.
    What it transmits goes to OUT, a preallocated ring (no list grows on the media path)."""

    def __init__(self, status, config, ssrc, name):
        from zerotap import media
        from zerotap.zrtp import engine as E
        self.call = status.new_call(ssrc, "out", name)
        leg = media.ZrtpLeg(E.Engine(ssrc, config=config), self.call)
        self.session = media.MediaSession(self._transmit, "pass", leg, self.call)
        leg.bind(self.session)
        self.out = []  # ZRTP packets while the exchange runs (copies)
        self.relay = None  # after SECURE: f(leg, buf, n) takes what goes out

    def _transmit(self, leg, buf, n, addr):
        if self.relay is not None:
            self.relay(leg, buf, n)
        else:
            self.out.append((leg, bytes(buf[:n])))


def _exchange(media, a, b, t0=0, lost=0):
    """The ZRTP exchange of one call between A and B (_Side), their clocks at T0 when it starts,
    until both are SECURE or 20 s have gone by; the first LOST packets are lost (sent again by
    the engines' timers). Returns (ms it took, ZRTP packets exchanged)."""
    for x, me, peer in ((a, 0, 1), (b, 1, 0)):
        x.session.set_remote(0, PHONE[0], PHONE[1] + me)
        x.session.set_remote(1, NET[peer][0], NET[peer][1])
    now = t0
    a.session.secure.start(now)
    b.session.secure.start(now)
    packets = 0
    while now < t0 + 20000 and not (a.session.secure.is_secure and b.session.secure.is_secure):
        moved = False
        for src, dst, addr in ((a, b, NET[0]), (b, a, NET[1])):
            out, src.out = src.out, []
            for leg, data in out:
                moved = True
                packets += 1
                if packets <= lost:
                    continue
                dst.session.receive(media.NET_RTP, bytearray(data), len(data), addr, now)
        for x in (a, b):
            t = x.session.timer()
            if t is not None and t <= now:
                x.session.handle_timer(now)
                moved = True
        if not moved:
            now += 10
    return now - t0, packets


def _secure_calls(pairs, ka="X255"):
    """PAIRS calls between two boxes, each made SECURE by its real engines; [(a, b)] of _Side."""
    from zerotap import media, status
    box_a, box_b = status.BoxStatus(), status.BoxStatus()
    ca, cb = _configs(ka)
    calls = []
    for p in range(pairs):
        a = _Side(box_a, ca, 0x1000 + p, "b")
        b = _Side(box_b, cb, 0x2000 + p, "a")
        _exchange(media, a, b)
        assert a.session.secure.is_secure and b.session.secure.is_secure, "not SECURE"
        assert a.call.sas == b.call.sas
        calls.append((a, b))
    return calls


def _relay_buffers():
    """The buffers _relay uses, made before it runs (a test of the largest allocation makes
    them before it cuts the heap into holes)."""
    # the phone's packets fill their buffers (no room for the SRTP tag), as the bytes a board's
    # recvfrom gives: the session copies them into its working buffer
    gc.collect()
    return bytearray(12 + 160), bytearray(8), bytearray(256), [0, 0, 0]


def _phone_packet(media, near, far, seq, now, rtp, rtcp, rtcp_from):
    """The phone's packet SEQ at NOW into NEAR's session, built in place in RTP (and an RTCP
    report in RTCP when SEQ % 10 == 9); then the timers of NEAR and FAR that are due."""
    r = rtp
    r[0] = 0x80
    r[1] = 0
    r[2] = (seq >> 8) & 0xFF
    r[3] = seq & 0xFF
    r[4] = r[5] = 0
    r[6] = (seq * 160 >> 8) & 0xFF
    r[7] = (seq * 160) & 0xFF
    r[8] = r[9] = r[11] = 0
    r[10] = 0x10
    near.session.receive(media.PHONE_RTP, r, 172, PHONE, now)
    if seq % 10 == 9:  # RTCP too
        c = rtcp
        c[0] = 0x80
        c[1] = 0xC9
        c[2] = c[4] = c[5] = c[7] = 0
        c[3] = 1
        c[6] = 0x10
        near.session.receive(media.PHONE_RTCP, c, 8, rtcp_from, now)
    for x in (near, far):
        t = x.session.timer()
        if t is not None and t <= now:
            x.session.handle_timer(now)


def _relay(calls, packets, bufs, first=0):
    """PACKETS RTP packets (and one RTCP report in ten) from each phone through both boxes of
    every call: protected by one box, unprotected by the other, the engines' and the sessions'
    timers served as the loop serves them. BUFS from _relay_buffers(): the boxes relay in
    place, as the runtime hands them its receive buffer. Returns [packets that reached the far
    phone, bytes of the longest, -]."""
    from zerotap import media
    rtp, rtcp, wire, got = bufs
    got[0] = got[1] = 0
    now = got  # got[2]: the clock
    rtcp_from = (PHONE[0], PHONE[1] + 1)
    for a, b in calls:
        for near, far, addr in ((a, b, NET[0]), (b, a, NET[1])):
            def to_net(leg, buf, n, far=far, addr=addr):
                wire[:n] = memoryview(buf)[:n]  # no copy of the packet: the wire is the harness's
                far.session.receive(media.NET_RTCP if leg == media.NET_RTCP else media.NET_RTP, wire, n, addr,
                                    now[2])

            def to_phone(leg, buf, n):
                got[0] += 1
                if n > got[1]:
                    got[1] = n
            near.relay = to_net
            far.relay = to_phone
            seq = first
            while seq < first + packets:
                now[2] = 1000 + 20 * seq
                _phone_packet(media, near, far, seq, now[2], rtp, rtcp, rtcp_from)
                seq += 1
            near.relay = far.relay = None
    return got


def _scaled_call(budget):
    return int(budget * FACTOR_CALL_64) if sys.maxsize > (1 << 32) else budget


def test_two_secure_calls_fit_their_budget():
    _secure_calls(1)  # imports, and what every later call shares (the key pool, tables)
    base = _used()
    calls = _secure_calls(2)
    got = _relay(calls, 20, _relay_buffers())
    both_boxes = _used() - base
    per_call = both_boxes // 4  # two calls, each with both boxes' ends in this heap
    print("heap: a SECURE call holds %d bytes (one box's end)" % per_call)
    assert got[0] == 2 * 2 * (20 + 2) and got[1] == 172, got
    if hasattr(gc, "mem_alloc"):
        assert per_call <= _scaled_call(CALL_32), \
            "a SECURE call holds %d bytes (budget %d)" % (per_call, _scaled_call(CALL_32))
    calls = None


def test_an_ice_agent_fits_its_budget():
    from test_ice_agent import _connect, _setup
    from icesim import PORT_RESTRICTED
    net, ha, hb, _ = _setup(PORT_RESTRICTED, PORT_RESTRICTED, relay=True, seed=3)
    assert _connect(net, ha, hb)
    assert ha.agent.send(b"media", net.now)
    net.run(net.now + 1000)
    with_agent = _used()
    ha.agent = None  # the simulated network keeps no other reference to it
    agent = with_agent - _used()
    print("heap: an ICE agent that selected a pair holds %d bytes" % agent)
    if hasattr(gc, "mem_alloc"):
        assert agent <= _scaled_call(ICE_32), \
            "an ICE agent holds %d bytes (budget %d)" % (agent, _scaled_call(ICE_32))


def _word():
    return 8 if sys.maxsize > (1 << 32) else 4


_ONE = (None,)  # made once, at import: a 1-block tuple made in a helper and let go after the cut
# would be garbage next to a hole, freed later


def _cut_heap(hole):
    """Cut the free heap into holes of at most HOLE bytes (a multiple of the GC block, 4 words),
    each walled in by blocks that stay taken, so that from now on nothing larger than HOLE can be
    allocated. Returns what holds the taken blocks (drop it to give the heap back).

    How: tuples are one allocation each, (2 + k) words. Pairs of HOLE-sized tuples are made
    until none fits: the first of each pair (F) in one list, the second (K) in another (both
    lists made first, at full size); the allocator takes the lowest free run that fits, so the K
    tuples wall the F tuples in. Then 1-block tuples fill every gap left, until not one block is
    free, and the F tuples are let go: their blocks are the only free memory. Should two of them
    touch (the allocator's order is not a promise), tuples one block larger than HOLE are made
    and kept until none fits. Checked at the end: a tuple of HOLE bytes fits, one a block larger
    does not. (No chain of F tuples: the GC scans the stack conservatively, and a stale pointer
    to one link would keep the whole chain; and the two lists are kept: freed later, when a stale
    pointer to them is gone, their arrays would be one large run.)"""
    w = _word()
    k = hole // w - 2
    one = _ONE
    gc.collect()
    n = gc.mem_free() // (2 * hole) + 16
    fs = [None] * n
    ks = [None] * n
    ws = [None] * n
    i = 0
    try:
        while i < n:
            fs[i] = one * k
            ks[i] = one * k
            i += 1
    except MemoryError:
        pass
    fill = None
    try:
        while True:
            fill = (fill,)  # one allocation of one block: the tuple itself
    except MemoryError:
        pass
    i = 0
    while i < n:
        fs[i] = None
        i += 1
    gc.collect()  # (the lists stay: their arrays, let go, would be one large free run)
    i = 0
    try:
        while i < n:
            ws[i] = one * (k + 4)  # a run longer than HOLE: take a block more than HOLE of it
            i += 1
    except MemoryError:
        pass
    probe = one * k  # HOLE bytes: fits
    probe = None
    try:
        probe = one * (k + 4)  # one GC block (4 words) more: must not
    except MemoryError:
        pass
    assert probe is None, "the heap was not cut into holes of %d bytes" % hole
    return [fs, ks, ws, fill]


def _rewall(held, hole):
    """Once _cut_heap returned: collect (what its frames still pointed to is freed now, next to
    a hole), wall in every run longer than HOLE again. Returns how many walls it made."""
    k = hole // _word() - 2
    one = _ONE
    gc.collect()
    chain = None
    made = 0
    try:
        while True:
            link = [None, chain]  # small: a hole takes it; the wall comes after, so no garbage
            chain = link
            link[0] = one * (k + 4)
            made += 1
    except MemoryError:
        pass
    held.append(chain)
    return made


def _cut(hole):
    """_cut_heap, then _rewall until a collection frees no run longer than HOLE (each frees what
    the frames before it still pointed to; on the 1 MiB rig one was not enough), then the check
    from here: a tuple SLACK_BLOCKS + 1 blocks larger than HOLE does not fit (the collections a
    returning frame brings free garbage next to a hole, a few blocks, at any time)."""
    held = _cut_heap(hole)
    rounds = 0
    while _rewall(held, hole) and rounds < 16:
        rounds += 1
    probe = None
    try:
        probe = _ONE * (hole // _word() - 2 + 4 * (SLACK_BLOCKS + 1))
    except MemoryError:
        pass
    assert probe is None, "the heap was not cut into holes of %d bytes (and %d blocks)" % (hole, SLACK_BLOCKS)
    return held


def test_a_cut_heap_refuses_anything_larger_than_its_holes():
    # (named to run early in this file, on a heap no call has used yet)
    # what the method promises, checked after it returned: an object of the hole's size fits,
    # one of four holes does not. (Garbage that the conservative GC still held during the cut,
    # through a stale pointer on the stack, joins a hole when a later collection frees it: 208
    # bytes were taken on the rig after a cut into 128-byte holes. So the limit the media test
    # proves on a board is PROVEN_32 = 4 x LARGEST_32.)
    if not hasattr(gc, "mem_alloc"):
        return  # CPython: no GC heap of blocks
    w = _word()
    held = _cut(32 * w)
    try:
        gc.collect()
        big = None
        words = 4 * 32
        try:
            big = _ONE * (words - 2)  # a single allocation of WORDS words
        except MemoryError:
            pass
        assert big is None, "the cut heap took an object of %d bytes" % (words * w)
        fits = _ONE * 30  # 32 words: the hole's size
        assert len(fits) == 30
    finally:
        held = None
        gc.collect()


def test_no_allocation_after_boot_exceeds_the_limit():
    # boot and two calls made SECURE, the buffers the driver needs made; then the heap is cut
    # into holes of LARGEST bytes (x2 on the 64-bit unix port: words double, and the largest
    # allocation here is an object of words) and the media path and the timers run on it:
    # an allocation larger than a hole raises MemoryError and fails the test.
    calls = _secure_calls(2)
    bufs = _relay_buffers()
    # the first packets, RTP and the first RTCP report of each direction (_relay sends one at
    # every tenth packet): the SRTP and SRTCP contexts, latches and replay windows settle. (The
    # SRTCP ones were left to the cut heap once: a new stream's state, about 1 KB in small
    # objects for the four directions on the rig, took most of the 20-odd holes the heap has
    # left after two calls, and in some runs no hole kept room for the next 100-byte hash object)
    _relay(calls, 10, bufs)
    if not hasattr(gc, "mem_alloc"):
        return
    limit = LARGEST_32 * _word() // 4
    held = _cut(limit)
    try:
        got = _relay(calls, 200, bufs, first=10)
        n = got[0]
    finally:
        held = None
        gc.collect()
    assert n == 2 * 2 * (200 + 20), n


# --- the idle box's modules (issue 19) ------------------------------------------------------------

# what an idle box imports (runtime/boot.py's main, a proxy by address, no ICE, web or TLS:
# test_box_runtime checks that it loads nothing more), and the key agreements its pool makes
IDLE = ("zerotap.runtime.boot", "zerotap.runtime.box", "zerotap.runtime.secure", "zerotap.runtime.network",
        "zerotap.runtime.control", "zerotap.crypto.drbg", "zerotap.crypto.x25519", "zerotap.crypto.dh",
        "zerotap.crypto.ec")


class _Socket:
    """A stand-in for the socket module on a port without one (the board32 rig): what the
    runtime reads at import. Made before the measure starts."""

    class socket:
        pass

    AF_INET = 2
    AF_INET6 = 10
    SOCK_DGRAM = 2
    SOCK_STREAM = 1


def _frozen():
    """True on a board's build (32 bits, the firmware frozen): module imports cost the heap only
    their objects there; on the unix port they also hold the bytecode, so are not comparable."""
    return sys.maxsize < (1 << 32)


# what a part that is not idle adds to the idle box's modules when it first runs (printed, for
# docs/heap.md and boards/README.md: the budget's lines)
PARTS = (
    ("ICE fallback", ("zerotap.runtime.fallback", "zerotap.runtime.ice", "zerotap.runtime.http", "zerotap.ice.agent", "zerotap.ice.fallback",
                      "zerotap.ice.offer", "zerotap.ice.helper_client", "zerotap.ice.turn", "zerotap.dtmf.detector",
                      "zerotap.dtmf.frame", "zerotap.dtmf.events")),
    # (runtime.web reads time.time at import: the rig's port has none, so the sans-IO page here)
    ("web page", ("zerotap.web.app", "zerotap.web.auth", "zerotap.web.http")),
    ("DNS", ("zerotap.runtime.resolver", "zerotap.dns")),
)


def _import_cost(groups):
    """Heap that importing each group of modules costs, after the ones before (a fresh import:
    every zerotap module is taken out of sys.modules first and put back after). [(bytes,
    zerotap modules loaded)], one per group."""
    stand_in = False
    try:
        import socket  # noqa: F401
    except ImportError:
        sys.modules["socket"] = _Socket
        stand_in = True
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "zerotap" or k.startswith("zerotap.")}
    out = []
    try:
        for i, names in enumerate(groups):
            before = _used()
            try:
                for name in names:
                    __import__(name)
            except Exception as e:  # a later group on a port without what it needs (printed)
                if i == 0:
                    raise
                out.append((None, "%s: %r" % (name, e)))
                continue
            out.append((_used() - before, sorted(k for k in sys.modules if k.startswith("zerotap"))))
    finally:
        for k in list(sys.modules):
            if k == "zerotap" or k.startswith("zerotap."):
                del sys.modules[k]
        sys.modules.update(saved)
        if stand_in:
            del sys.modules["socket"]
    return out


# the idle box's modules, each after those it imports (as CPython's import finishes them; the
# crypto backend as MicroPython picks it): per-module figures on a board's build
IDLE_ORDER = ("zerotap", "zerotap.runtime", "zerotap.ui", "zerotap.states", "zerotap.ui.keypad", "zerotap.zrtp",
              "zerotap.crypto.checks", "zerotap.crypto.dh", "zerotap.crypto.ec", "zerotap.crypto.x25519",
              "zerotap.crypto.keyagreement", "zerotap.crypto.drbg", "zerotap.crypto.crc", "zerotap.crypto.mac",
              "zerotap.crypto.modes", "zerotap.crypto", "zerotap.zrtp.algorithms", "zerotap.config",
              "zerotap.lastgood", "zerotap.status", "zerotap.runtime.udp", "zerotap.runtime.boot", "zerotap.rtp",
              "zerotap.seams", "zerotap.srtp", "zerotap.zrtp.events", "zerotap.media", "zerotap.watch", "zerotap.sip",
              "zerotap.sip.uri", "zerotap.sip.headers", "zerotap.sip.message", "zerotap.sip.locate", "zerotap.sip.nat",
              "zerotap.sip.sdp", "zerotap.sip.rewrite", "zerotap.sip.proxy", "zerotap.runtime.box", "zerotap.storage",
              "zerotap.zrtp.packets", "zerotap.zrtp.cache", "zerotap.zrtp.keys", "zerotap.zrtp.sas",
              "zerotap.zrtp.engine", "zerotap.runtime.secure", "zerotap.sip.framing", "zerotap.runtime.stream",
              "zerotap.runtime.siptransport", "zerotap.runtime.network", "zerotap.runtime.control")


def test_a_box_idle_modules_one_by_one():
    # (printed on a board's build only: on the unix port a module's figure is its bytecode)
    if not _frozen():
        return
    costs = _import_cost([(m,) for m in IDLE_ORDER])
    for m, (cost, _) in zip(IDLE_ORDER, costs):
        print("heap: module %s: %s bytes" % (m, cost))


def test_a_box_idle_imports_modules_within_the_budget():
    # (named to run first in this file: a fresh board, no zerotap module imported yet)
    costs = _import_cost([IDLE] + [names for _, names in PARTS])
    cost, loaded = costs[0]
    print("heap: the idle box's %d modules: %d bytes" % (len(loaded), cost))
    for (what, _), (more, why) in zip(PARTS, costs[1:]):
        if more is None:
            print("heap: the %s's modules: not measured here (%s)" % (what, why))
        else:
            print("heap: the %s's modules add %d bytes" % (what, more))
    assert "zerotap.zrtp.engine" in loaded and "zerotap.sip.proxy" in loaded and "zerotap.media" in loaded
    if _frozen() and hasattr(gc, "mem_alloc"):
        assert cost <= IDLE_MODULES_32, "the idle box's modules take %d bytes (budget %d)" % (cost, IDLE_MODULES_32)
        ice = costs[1][0]
        assert ice is not None and ice <= ICE_MODULES_32, \
            "the ICE fallback's modules take %s bytes (budget %d)" % (ice, ICE_MODULES_32)


def test_the_budget_adds_up_to_the_board():
    # idle + two SECURE calls + the trust cache + one ICE fallback within 112 KiB, with what is
    # left as the reserve for the fallback's own state and the GC's fragmentation
    total = IDLE_MODULES_32 + IDLE_OBJECTS_32 + 2 * CALL_32 + CACHE_32 + ICE_MODULES_32 + ICE_32
    assert total <= TOTAL_32 - 4096, "the budget's parts add up to %d bytes of %d" % (total, TOTAL_32)
