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

Two ZRTP engines or two boxes' media sessions back to back live in backtoback.py (kept apart so
that a test that needs none of them does not carry their code on a board-sized heap).

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
