"""What several firmware tests share, alike under CPython and MicroPython (like vectors.py, it
imports only firmware modules):

    d = scratch("boards")              # a new empty directory of its own: /tmp/zerotap-test-boards-...
    st = fresh_storage("cache")        # a zerotap.storage.Storage on a new scratch directory
    raises(lambda: f(x), "f: bad x")   # f(x) must raise ValueError with exactly this text
    error_text(uri.parse, "sip:")      # the ValueError's text, or None when there is none
    for name, b in each_backend(): ... # every crypto backend that loads, one at a time
    rng = Xorshift32(seed)             # the same numbers on both interpreters
    packets = packed(300, lambda i: tx.protect(rtp(i)))  # a list that stays packed on a board
    used = heap_used()                 # heap bytes in use after a collection (both interpreters)
    config_refused(obj, "network.sip", "missing")  # config.parse(obj) must refuse, naming the key
    shuttle(a, b, tamper=f)            # two ZRTP engines exchange packets until nothing moves
    evs = events(a)                    # every event an engine has queued, in order
    a, b = media_pair("block")         # two boxes' media sessions back to back (MediaBox)
    now = run_to_secure(a, b, 0, 20000)  # packets both ways until both are SECURE (or None)

Scratch directories get a random suffix, so that the two interpreters' runs (and other
engineers' runs) on one machine never share one.
"""
import binascii
import os


def scratch(name):
    """A new empty directory /tmp/zerotap-test-NAME-<random hex>; every call makes another."""
    path = "/tmp/zerotap-test-%s-%s" % (name, binascii.hexlify(os.urandom(4)).decode())
    os.mkdir(path)
    return path


def fresh_storage(name):
    """A zerotap.storage.Storage on a new scratch directory."""
    from zerotap.storage import Storage
    return Storage(scratch(name))


def error_text(func, *args):
    """The text of the ValueError that FUNC(*ARGS) raises, or None when it returns."""
    try:
        func(*args)
    except ValueError as e:
        return str(e)
    return None


def raises(func, text):
    """FUNC() must raise a ValueError whose text is exactly TEXT."""
    got = error_text(func)
    if got is None:
        raise AssertionError("no ValueError, want %r" % text)
    assert got == text, "got %r, want %r" % (got, text)


def config_refused(obj, key, text):
    """zerotap.config.parse(OBJ) must raise a ConfigError naming KEY, whose text is exactly
    "KEY: TEXT"."""
    from zerotap import config
    try:
        config.parse(obj)
    except config.ConfigError as e:
        assert e.key == key, (e.key, key, str(e))
        assert str(e) == key + ": " + text, str(e)
        return
    raise AssertionError("accepted: %r" % (obj,))


def events(x):
    """Every event X (a ZRTP engine, or anything with next_event()) has queued, in order; its
    queue is empty after."""
    out = []
    ev = x.next_event()
    while ev is not None:
        out.append(ev)
        ev = x.next_event()
    return out


def shuttle(a, b, now=0, until=None, tamper=None, rounds=200):
    """Deliver every packet between two ZRTP engines A and B both ways (no loss) at NOW, running
    each one's slices of work while it is busy, until nothing moves, UNTIL() is true or ROUNDS
    rounds have passed. TAMPER(src, packet) may change or drop (None) a packet. Returns the
    packets each side sent, in order: {id(a): [...], id(b): [...]}."""
    sent = {id(a): [], id(b): []}
    for _ in range(rounds):
        moved = False
        for src, dst in ((a, b), (b, a)):
            for p in src.datagrams_to_send():
                sent[id(src)].append(p)
                if tamper is not None:
                    p = tamper(src, p)
                if p is not None:
                    moved = True
                    dst.receive(p, now)
            while src.busy:
                src.handle_timer(now)
                moved = True
        if until is not None and until():
            break
        if not moved:
            break
    return sent


# Two boxes' network media legs back to back in memory (each box's phone leg faces its own phone)
PHONE_A = ("10.0.0.2", 4000)
PHONE_B = ("10.0.1.2", 4100)
NET_A = ("192.0.2.1", 42000)  # box A's network media address, as box B sees it
NET_B = ("192.0.2.2", 43000)


def rtp(seq, payload=b"\x11" * 160, ssrc=0x01020304, pt=0):
    """An RTP packet (a bytearray): sequence number SEQ, timestamp SEQ & 0xFF."""
    return bytearray(bytes((0x80, pt, seq >> 8, seq & 0xFF, 0, 0, 0, seq & 0xFF,
                            ssrc >> 24, (ssrc >> 16) & 0xFF, (ssrc >> 8) & 0xFF, ssrc & 0xFF))
                     + payload)


class MediaBox:
    """One call's media session (zerotap.media.MediaSession) as a box runs it, with its real ZRTP
    engine (X25519, so that the MicroPython runner stays quick; INITIATE as in engine.Config) and
    SRTP. What it transmits is kept in .sent as (leg, bytes, addr); take() hands it out."""

    def __init__(self, name, policy="pass", initiate=True):
        from zerotap import media, status
        from zerotap.zrtp import algorithms, engine
        self.status = status.BoxStatus()
        self.call = self.status.new_call(1, "out", "peer")
        self.sent = []
        cfg = engine.Config(offer=algorithms.Offer(key_agreements=("X255",)), initiate=initiate)
        self.engine = engine.Engine(0x1000 + len(name), config=cfg)
        self.leg = media.ZrtpLeg(self.engine, self.call)
        self.session = media.MediaSession(self._transmit, policy, self.leg, self.call)
        self.leg.bind(self.session)

    def _transmit(self, leg, buf, n, addr):
        self.sent.append((leg, bytes(buf[:n]), addr))

    def take(self, leg=None):
        """What was transmitted on LEG (on any leg when None) since the last take, in order."""
        out = [s for s in self.sent if leg is None or s[0] == leg]
        self.sent = [s for s in self.sent if not (leg is None or s[0] == leg)]
        return out


def media_pair(policy="pass", initiate_b=True):
    """Boxes A and B (MediaBox, clear-media POLICY), each facing its phone (PHONE_A, PHONE_B) and
    the other box (NET_B, NET_A)."""
    a, b = MediaBox("a", policy), MediaBox("b", policy, initiate=initiate_b)
    a.session.set_remote(0, PHONE_A[0], PHONE_A[1])
    a.session.set_remote(1, NET_B[0], NET_B[1])
    b.session.set_remote(0, PHONE_B[0], PHONE_B[1])
    b.session.set_remote(1, NET_A[0], NET_A[1])
    return a, b


def run_to_secure(a, b, now, until_ms, inject=None):
    """Deliver the network-leg packets of a media_pair both ways and fire timers, from NOW until
    both are secure with nothing left to send: returns that time (ms), or None at UNTIL_MS.
    INJECT(now, dst, data), after each delivery, may return (box, packet, addr) to hand one more
    datagram to a box."""
    from zerotap import media
    a.session.secure.start(now)
    b.session.secure.start(now)
    while now < until_ms:
        moved = False
        for src, dst, addr in ((a, b, NET_A), (b, a, NET_B)):
            for leg, data, _ in src.take(media.NET_RTP):
                moved = True
                dst.session.receive(media.NET_RTP, bytearray(data), len(data), addr, now)
                if inject is not None:
                    extra = inject(now, dst, data)
                    if extra is not None:
                        box, pkt, at = extra
                        box.session.receive(media.NET_RTP, bytearray(pkt), len(pkt), at, now)
        for box in (a, b):
            t = box.session.timer()
            if t is not None and t <= now:
                box.session.handle_timer(now)
                moved = True
        if a.leg.is_secure and b.leg.is_secure and not a.sent and not b.sent:
            return now
        if not moved:
            now += 10
    return None


def each_backend():
    """(name, backend) for every crypto backend that loads (at least one must), one at a time:
    each backend other than crypto.BACKEND is released after its turn, so that a board-sized
    heap never holds them all (a test that keeps a backend keeps it alive, of course). A backend
    that does not fit in the heap is left out (crypto.skipped() says why)."""
    import gc
    from zerotap import crypto
    n = 0
    for name in crypto.ORDER:
        try:
            b = crypto.backend(name)
        except ImportError:
            continue
        n += 1
        yield name, b
        b = None
        if name != crypto.BACKEND:
            crypto.release(name)
            gc.collect()
    assert n, "no crypto backend loads"


def backend_modules():
    """Each crypto backend that loads, one at a time (each_backend() without the names)."""
    for _, b in each_backend():
        yield b


def packed(n, make):
    """[make(0), ..., make(N-1)], the list made at its full size at once and the heap collected
    every 16 values. On a board the values a test keeps would otherwise be strewn over the whole
    heap among the garbage made between two collections, leaving no large block free (a 112 KiB
    heap with 90 KB free then fails a 1 KB allocation)."""
    import gc
    import sys
    collect = sys.implementation.name == "micropython"  # CPython's heap does not fragment so
    out = [None] * n
    for i in range(n):
        out[i] = make(i)
        if collect and i % 16 == 15:
            gc.collect()
    return out


class Xorshift32:
    """xorshift32 (Marsaglia 2003): the same sequence under CPython and MicroPython, where
    random.seed() is not portable. SEED 0 is taken as 1 (xorshift never leaves 0)."""

    def __init__(self, seed):
        self.s = (seed & 0xFFFFFFFF) or 1

    def next(self):
        s = self.s
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.s = s
        return s

    def chance(self, p):
        """True with probability P (to 1e-4)."""
        return self.next() % 10000 < int(p * 10000)

    def below(self, n):
        """A number in 0..N-1 (0 when N <= 0)."""
        return self.next() % n if n > 0 else 0


def heap_used():
    """Bytes of heap in use after a collection: ``gc.mem_alloc()`` on MicroPython; on CPython the
    bytes tracemalloc traces (tracing starts at the first call, so measure differences between
    later calls; ``heap_done()`` stops it)."""
    import gc
    gc.collect()
    if hasattr(gc, "mem_alloc"):
        return gc.mem_alloc()
    import tracemalloc
    if not tracemalloc.is_tracing():
        tracemalloc.start()
    return tracemalloc.get_traced_memory()[0]


def heap_done():
    """Stop what heap_used() started (CPython's tracing slows everything down)."""
    import gc
    if not hasattr(gc, "mem_alloc"):
        import tracemalloc
        tracemalloc.stop()


def _largest_block():
    """The largest bytearray the heap can hold now (MicroPython), by bisection."""
    import gc
    gc.collect()
    low, high = 0, gc.mem_free()
    while high - low > 64:
        mid = (low + high) // 2
        try:
            b = bytearray(mid)
            b = None
            low = mid
        except MemoryError:
            high = mid
    gc.collect()  # the last block tried is garbage now
    return low


def heap_needed(f, high=65536, resolution=256):
    """The least free heap, in bytes, in which F() runs without a MemoryError, on MicroPython: the
    holes of the heap are filled and one ballast block takes its free tail but LEAVE bytes, F
    runs, and LEAVE is bisected (F must be repeatable). Unlike differences of gc.mem_alloc(),
    this is a peak: what F holds at its worst, with the collector running as it does on a board
    (in one free region: a fragmented heap needs more). None on CPython, or when F fails with
    HIGH bytes free."""
    import gc
    if not hasattr(gc, "mem_free"):
        return None

    def free_when_run(leave):
        """(ran, free heap it had)"""
        largest = _largest_block()
        tail = bytearray(largest - 64)
        chain = None
        for size in (4096, 1024, 256, 64, 16):  # every hole before the tail
            while True:
                try:
                    chain = [bytearray(size), chain]
                except MemoryError:
                    break
        tail = None
        gc.collect()
        ballast = bytearray(max(0, gc.mem_free() - leave - 64))
        free = gc.mem_free()
        try:
            f()
            return True, free
        except MemoryError:
            return False, free
        finally:
            ballast = chain = None
            gc.collect()

    ran, free = free_when_run(high)
    if not ran:
        return None
    low = 0
    best = free
    while high - low > resolution:
        mid = (low + high) // 2
        ran, free = free_when_run(mid)
        if ran:
            high = mid
            best = min(best, free)
        else:
            low = mid
    return best
