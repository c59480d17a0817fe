"""The in-order fast path of zerotap.srtp.Session against its general path.

A session takes the next plain packet of the stream it saw last (12-byte header, sequence number
one above the highest) on a short path: in C with the native backend (SrtpStream and the
transform's protect_next/unprotect_next/protect_bytes/unprotect_bytes), in Python with the others.
Here every backend, through the public API (bytes and in place, mixed), must give packet for
packet the bytes and the decisions of the pure-Python backend driven through the general path
alone, on traffic that leaves the fast path and comes back to it: two SSRCs, CSRCs and header
extensions, gaps, the sequence number wrap, a sender repeating itself, and on the receiving side
reordering, duplicates, flipped bits and truncation.
"""
import gc
import sys

from zerotap import crypto, srtp
from support import Xorshift32

_MICROPYTHON = sys.implementation.name == "micropython"

SALT = bytes(range(100, 114))


def _rtp(seq, ssrc, payload, fancy):
    h = bytearray(12)
    h[0] = 0x80
    h[1] = 8
    h[2] = seq >> 8
    h[3] = seq & 0xFF
    h[4] = 0xA0
    for k in range(4):
        h[8 + k] = (ssrc >> (24 - 8 * k)) & 0xFF
    if fancy:  # a CSRC and a one-word header extension: the general path
        h[0] = 0x91
        return bytes(h) + b"\xaa\xbb\xcc\xdd" + b"\xbe\xde\x00\x01\x10\x55\x00\x00" + payload
    return bytes(h) + payload


def _outcome(func, *args):
    try:
        return func(*args)
    except srtp.SrtpError as e:
        return (type(e).__name__, str(e))


def _general_protect(session, packet):
    """protect() through the general path only (the reference)."""
    buf = bytearray(packet)
    buf.extend(bytes(session.tag_length))
    r = session._protect_any(buf, len(packet))
    if r < 0:
        raise srtp.error(r)
    return bytes(buf[:r])


def _general_unprotect(session, packet):
    buf = bytearray(packet)
    r = session._unprotect_any(buf, len(buf))
    if r < 0:
        raise srtp.error(r)
    return bytes(buf[:r])


def _in_place(method, room, packet):
    """A *_into method with a Drops object: (bytes, or the error it stood for) and the drops."""
    buf = bytearray(packet)
    buf.extend(bytes(room))
    drops = srtp.Drops()
    before = bytes(buf)
    r = method(buf, len(packet), drops)
    if r < 0:
        assert drops.total == 1, drops
        assert bytes(buf) == before, "a dropped packet leaves the buffer alone"
        e = srtp.error(r)
        return (type(e).__name__, str(e))
    assert drops.total == 0
    return bytes(buf[:r])


def _sender_script(rng, n):
    """(seq, ssrc, payload, fancy) in sending order."""
    seqs = {0x0BADF00D: 65500, 0x7EEDBEEF: 30000}  # the first one wraps
    ssrcs = list(seqs)
    out = [None] * n  # at its full size at once (a growing list fragments a board's heap)
    ssrc = ssrcs[0]
    for i in range(n):
        r = rng.below(100)
        if r < 5:
            ssrc = ssrcs[rng.below(2)]
        seq = seqs[ssrc]
        if r == 10:
            seq = (seq - 2) & 0xFFFF  # the sender repeats an index: refused
        elif r == 11:
            seq = (seq + 5) & 0xFFFF  # a gap
        out[i] = (seq, ssrc, bytes([i & 0xFF]) * (1 + rng.below(60)), r in (20, 21, 22))
        if r != 10:
            seqs[ssrc] = (seq + 1) & 0xFFFF
    return out


def _receiver_script(rng, wire):
    """The protected packets in arrival order: swapped, repeated, forged and cut ones among them."""
    order = list(range(len(wire)))
    for i in range(len(order) - 1):
        if rng.below(12) == 0:
            order[i], order[i + 1] = order[i + 1], order[i]
    out = []
    for i in order:
        p = wire[i]
        r = rng.below(40)
        if r == 0 and out:
            out.append(out[-1])  # a duplicate
        out.append(p)
        if r == 1:
            bad = bytearray(p)
            bad[rng.below(len(bad))] ^= 1 << rng.below(8)
            out.insert(len(out) - 1, bytes(bad))  # a forgery just ahead of the real one
        elif r == 2:
            out.insert(len(out) - 1, p[:rng.below(len(p))])
    return out


def _run(c, profile, seed, n):
    rng = Xorshift32(seed)
    key = bytes(range(7, 7 + srtp.PROFILES[profile][0]))
    # the pure-Python backend is the reference wherever it loads (a MicroPython build without
    # SHA-1 in hashlib has only the native one: then its own general path is)
    ref = crypto.backend("python") if "python" in crypto.backends() else c
    tx, ref_tx = srtp.Session(profile, key, SALT, backend=c), srtp.Session(profile, key, SALT, backend=ref)
    # the receiving sessions too are made first, before the packets fill the heap (as a box makes
    # its buffers at boot)
    rx, ref_rx = srtp.Session(profile, key, SALT, backend=c), srtp.Session(profile, key, SALT, backend=ref)
    wire = [None] * n  # at its full size at once, cut to its length below
    w = 0
    for i, (seq, ssrc, payload, fancy) in enumerate(_sender_script(rng, n)):
        if _MICROPYTHON:
            gc.collect()  # keeps WIRE packed at the bottom of a board's heap (see support.packed)
        packet = _rtp(seq, ssrc, payload, fancy)
        want = _outcome(_general_protect, ref_tx, packet)
        if rng.below(2):
            got = _outcome(tx.protect, packet)
        else:
            got = _in_place(tx.protect_into, tx.tag_length, packet)
        assert got == want, (c.NAME, profile, seq, ssrc, got, want)
        if not isinstance(want, tuple):
            wire[w] = want
            w += 1
    del wire[w:]
    gc.collect()
    kinds = {}
    for p in _receiver_script(rng, wire):
        want = _outcome(_general_unprotect, ref_rx, p)
        if rng.below(2):
            got = _outcome(rx.unprotect, p)
        else:
            got = _in_place(rx.unprotect_into, 0, p)
        assert got == want, (c.NAME, profile, p, got, want)
        k = want[0] if isinstance(want, tuple) else "ok"
        kinds[k] = kinds.get(k, 0) + 1
    return kinds


def test_fast_path_decides_like_the_general_path_on_every_backend():
    for name in crypto.backends():
        c = crypto.backend(name)
        for profile, seed in ((srtp.AES_CM_128_HMAC_SHA1_80, 3), (srtp.AES_256_CM_HMAC_SHA1_32, 4)):
            kinds = _run(c, profile, seed, 260)
            # the traffic took every turn: accepted, forged, replayed, cut
            for k in ("ok", "AuthenticationError", "ReplayError", "MalformedError"):
                assert kinds.get(k, 0) > 0, (name, profile, kinds)


def test_native_stream_state_is_the_python_one():
    # the replay driver of test_srtp_replay, run on the native SrtpStream next to srtp._Stream
    for name in crypto.backends():
        stream = getattr(crypto.backend(name), "SrtpStream", None)
        if stream is None:
            continue
        rng = Xorshift32(9)
        for start in (0, 5, 65530, 7 * 65536, (1 << 48) - 300):
            a = srtp._Stream(b"\x12\x34\x56\x78", 0x12345678, start)
            b = stream(b"\x12\x34\x56\x78", 0x12345678, start)
            assert (b.ssrc, b.hi, b.lo, b.highest) == (0x12345678, 0x1234, 0x5678, start)
            for _ in range(2000):
                index = max(0, a.highest + rng.below(240) - 200)
                if rng.below(100) == 0:
                    index = a.highest + 100 + rng.below(900)
                assert b.check(index) == a.check(index), (start, index)
                if a.check(index) == 0:
                    a.add(index)
                    b.add(index)
                assert b.highest == a.highest
            b.next = 5
            b.highest = 17
            assert (b.next, b.highest) == (5, 17)


def test_native_fast_path_refuses_what_it_is_not_for():
    for name in crypto.backends():
        c = crypto.backend(name)
        if getattr(c, "SrtpStream", None) is None:
            continue
        t = c.SrtpTransform(bytes(16), bytes(14), bytes(20), 10)
        s = c.SrtpStream(b"\x00\x00\x00\x01", 1, 99)
        plain = _rtp(100, 1, b"voice", False)
        buf = bytearray(plain + bytes(10))
        # not the next one, another SSRC, a CSRC, no room for the tag
        for p, length, room in ((_rtp(101, 1, b"voice", False), 17, 10), (_rtp(100, 2, b"voice", False), 17, 10),
                                (_rtp(100, 1, b"voice", True), 29, 10), (plain, 17, 0)):
            b2 = bytearray(p + bytes(room))
            assert t.protect_next(b2, length, s) == -1 and bytes(b2) == p + bytes(room)
            if room:
                assert t.protect_bytes(p, s) is None
        # ... a length beyond the buffer
        assert t.protect_next(buf, 40, s) == -1
        assert s.highest == 99
        n = t.protect_next(buf, len(plain), s)
        assert n == len(plain) + 10 and s.highest == 100
        wire = bytes(buf[:n])
        r = c.SrtpStream(b"\x00\x00\x00\x01", 1, 99)
        bad = bytearray(wire)
        bad[14] ^= 4
        forged = bytes(bad)
        assert t.unprotect_next(bad, n, r) == -2 and bytes(bad) == forged  # wrong tag: untouched
        assert t.unprotect_bytes(bytes(bad), r) is None and r.highest == 99
        assert t.unprotect_bytes(wire, r) == plain and r.highest == 100
        assert t.unprotect_bytes(wire, r) is None  # a replay is not the next packet
        try:
            t.protect_next(buf, 17, srtp._Stream(b"\x00\x00\x00\x01", 1, 99))
        except TypeError:
            pass
        else:
            assert False, "a Python stream is refused"


def test_native_media_path_allocates_nothing_under_micropython():
    # MicroPython built with the native module: protect_into and unprotect_into of in-order
    # packets under heap_lock, where any allocation raises MemoryError. (Stock MicroPython has no
    # native backend and CPython no heap_lock: there this finds nothing to check.)
    import micropython
    lock = getattr(micropython, "heap_lock", None)
    for name in crypto.backends():
        c = crypto.backend(name)
        if lock is None or getattr(c, "SrtpStream", None) is None:
            continue
        for profile in srtp.PROFILES:
            key = bytes(range(srtp.PROFILES[profile][0]))
            tx, rx = srtp.Session(profile, key, SALT, backend=c), srtp.Session(profile, key, SALT, backend=c)
            buf = bytearray(_rtp(7, 0xCAFEBABE, bytes(160), False) + bytes(10))
            drops = srtp.Drops()
            n = tx.protect_into(buf, 172, drops)
            rx.unprotect_into(buf, n, drops)
            results = []
            for seq in (8, 9, 10):
                buf[3] = seq
                lock()
                try:
                    n = tx.protect_into(buf, 172, drops)
                    m = rx.unprotect_into(buf, n, drops)
                except MemoryError:
                    n = m = -1
                micropython.heap_unlock()
                results.append((n, m))
            assert results == [(172 + tx.tag_length, 172)] * 3 and drops.total == 0, (profile, results)
