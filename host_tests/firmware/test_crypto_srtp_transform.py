"""The in-place SRTP/SRTCP transform against packets protected by libsrtp (crypto_srtp.json),
on every backend: AES-CM 128/256, HMAC-SHA1 80/32, SRTP with the ROC suffix, SRTCP with E||index."""
from vectors import each, unhex
from support import each_backend, raises


def _cases():
    # crypto_srtp.json (13 KB), one case at a time
    return each("crypto_srtp.json", "cases")


def _case(i):
    for j, case in enumerate(_cases()):
        if j == i:
            return case
    raise IndexError(i)


def _transform(b, keys, tag_len):
    return b.SrtpTransform(unhex(keys["cipher_key"]), unhex(keys["cipher_salt"]),
                           unhex(keys["auth_key"]), tag_len)


def test_srtp_protect_matches_libsrtp():
    for name, b in each_backend():
        for case in _cases():
            t = _transform(b, case["rtp"], case["tag_len"])
            for p in case["srtp_packets"]:
                plain, want = unhex(p["plain"]), unhex(p["protected"])
                buf = bytearray(len(plain) + 10)
                buf[0:len(plain)] = plain
                n = t.protect(buf, 12, len(plain), len(plain), case["ssrc"], p["index"], p["roc"])
                assert n == len(want), (name, case["profile"])
                assert bytes(buf[0:n]) == want, (name, case["profile"], p["seq"])


def test_srtp_unprotect_matches_libsrtp_and_rejects_forgery():
    for name, b in each_backend():
        for case in _cases():
            t = _transform(b, case["rtp"], case["tag_len"])
            tl = case["tag_len"]
            for p in case["srtp_packets"]:
                plain, prot = unhex(p["plain"]), unhex(p["protected"])
                end = len(prot) - tl
                buf = bytearray(prot)
                assert t.unprotect(buf, 12, end, end, case["ssrc"], p["index"], p["roc"]), name
                assert bytes(buf[0:end]) == plain, (name, case["profile"])
                # a flipped bit in the payload, the header, the tag; a wrong ROC
                for pos in (12, 2, end, len(prot) - 1):
                    bad = bytearray(prot)
                    bad[pos] ^= 0x01
                    before = bytes(bad)
                    assert not t.unprotect(bad, 12, end, end, case["ssrc"], p["index"], p["roc"])
                    assert bytes(bad) == before, "left untouched on failure"
                bad = bytearray(prot)
                assert not t.unprotect(bad, 12, end, end, case["ssrc"], p["index"], p["roc"] + 1)


def test_srtcp_matches_libsrtp():
    for name, b in each_backend():
        for case in _cases():
            t = _transform(b, case["rtcp"], case["rtcp_tag_len"])
            for p in case["srtcp_packets"]:
                plain, want = unhex(p["plain"]), unhex(p["protected"])
                end = len(plain)
                buf = bytearray(len(want))
                buf[0:end] = plain
                ei = 0x80000000 | p["index"]  # E flag: encrypted (RFC 3711 section 3.4)
                buf[end:end + 4] = bytes(((ei >> 24) & 0xFF, (ei >> 16) & 0xFF, (ei >> 8) & 0xFF, ei & 0xFF))
                ssrc = case["ssrc"]
                n = t.protect(buf, 8, end, end + 4, ssrc, p["index"], -1)
                assert n == len(want) and bytes(buf) == want, (name, case["profile"])
                assert t.unprotect(buf, 8, end, end + 4, ssrc, p["index"], -1), name
                assert bytes(buf[0:end]) == plain, name


def test_long_packet_round_trip_across_keystream_chunks():
    for name, b in each_backend():
        case = _case(0)
        t = _transform(b, case["rtp"], 10)
        data = bytes((i * 7) & 0xFF for i in range(3000))
        buf = bytearray(data + bytes(10))
        n = t.protect(buf, 12, 3000, 3000, 1, 5, 0)
        assert n == 3010 and bytes(buf[12:3000]) != data[12:3000]
        assert t.unprotect(buf, 12, 3000, 3000, 1, 5, 0), name
        assert bytes(buf[0:3000]) == data, name
    # the same packet on every backend gives the same bytes (checked against the first one)
    outs = []
    for name, b in each_backend():
        t = _transform(b, _case(2)["rtp"], 4)
        buf = bytearray(bytes(range(256)) * 8)
        t.protect(buf, 12, 2000, 2000, 0xFFFFFFFF, (1 << 48) - 1, 0xFFFFFFFF)
        outs.append(bytes(buf))
    for o in outs:
        assert o == outs[0]


def test_wrong_keys_and_spans_name_what_was_wrong():
    for name, b in each_backend():
        k, s, a = bytes(16), bytes(14), bytes(20)
        raises(lambda: b.SrtpTransform(bytes(24), s, a, 10), "SRTP cipher key must be 16 or 32 bytes, got 24")
        raises(lambda: b.SrtpTransform(k, bytes(16), a, 10), "SRTP cipher salt must be 14 bytes, got 16")
        raises(lambda: b.SrtpTransform(k, s, bytes(16), 10), "SRTP auth key must be 20 bytes, got 16")
        raises(lambda: b.SrtpTransform(k, s, a, 8), "SRTP tag length must be 4 or 10 bytes, got 8")
        t = b.SrtpTransform(k, s, a, 10)
        buf = bytearray(40)
        raises(lambda: t.protect(buf, 12, 40, 40, 1, 1, 0), "SRTP buffer of 40 bytes has no room for the tag at 40")
        raises(lambda: t.protect(buf, 20, 12, 30, 1, 1, 0),
                "SRTP spans must satisfy 0 <= enc_start <= enc_end <= auth_end, got 20, 12, 30")
        raises(lambda: t.unprotect(buf, 12, 31, 30, 1, 1, 0),
                "SRTP spans must satisfy 0 <= enc_start <= enc_end <= auth_end, got 12, 31, 30")
        raises(lambda: t.protect(buf, 12, 20, 20, 1 << 32, 1, 0), "SRTP SSRC must fit 32 bits")
        raises(lambda: t.protect(buf, 12, 20, 20, 1, 1 << 48, 0), "SRTP index must fit 48 bits")
        assert bytes(buf) == bytes(40), "a rejected call leaves the buffer alone"


def test_native_cpu_paths_give_the_same_bytes():
    # The native transform uses AES-NI and SHA-NI where the CPU has them (x86-64 hosts), mbedTLS
    # elsewhere; cpu_features(False) forces mbedTLS. Both paths against libsrtp's packets, and
    # against each other on every payload length up to 300 and on long packets.
    for name, b in each_backend():
        features = getattr(b, "cpu_features", None)
        if features is None:
            continue
        try:
            for enable in (False, True):
                features(enable)
                test_srtp_protect_matches_libsrtp()
                test_srtp_unprotect_matches_libsrtp_and_rejects_forgery()
                test_srtcp_matches_libsrtp()
                test_long_packet_round_trip_across_keystream_chunks()
            for case in _cases():
                for tag_len in (4, 10):
                    t = _transform(b, case["rtp"], tag_len)
                    for size in list(range(12, 313)) + [1500, 4099]:
                        data = bytes((i * 31 + size) & 0xFF for i in range(size))
                        suffix = size if size & 1 else -1  # SRTP's ROC, or none as in SRTCP
                        outs = []
                        for enable in (False, True):
                            features(enable)
                            buf = bytearray(data + bytes(tag_len))
                            t.protect(buf, 12, size, size, 0x01020304, size * 65537, suffix)
                            outs.append(bytes(buf))
                            assert t.unprotect(buf, 12, size, size, 0x01020304, size * 65537, suffix)
                            assert bytes(buf[0:size]) == data
                        assert outs[0] == outs[1], (name, size, tag_len, features())
        finally:
            features(True)


class _Index:
    """An int-like argument (CPython converts it through __index__, running Python code)."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v

    def __int__(self):
        return self.v


def test_a_span_that_is_not_an_int_raises_a_type_error():
    # A bad span followed by an int-like argument: the native binding went on converting the
    # later arguments with the span's TypeError pending, and Python code run then (__index__)
    # turned it into "SystemError: ... returned a result with an exception set" (fuzz finding:
    # protect(buf, None, 20, 20, 1, 1, <int-like>)).
    for name, b in each_backend():
        t = b.SrtpTransform(bytes(16), bytes(14), bytes(20), 10)
        for call in (t.protect, t.unprotect):
            for span in ((None, 20, 20), (12, "20", 20), (12, 20, None)):
                buf = bytearray(40)
                try:
                    call(buf, span[0], span[1], span[2], 1, 1, _Index(0))
                except TypeError:
                    pass
                else:
                    raise AssertionError("no TypeError: %s %r" % (name, span))
                assert bytes(buf) == bytes(40), name


class _Grows:
    """A span whose conversion to an int (__int__ on MicroPython, __index__ on CPython) first
    runs THEN: Python code in the middle of the call."""

    def __init__(self, v, then):
        self.v = v
        self.then = then

    def __index__(self):
        self.then()
        return self.v

    __int__ = __index__


def test_a_buffer_resized_while_the_spans_convert_is_not_written_where_it_was():
    # MicroPython's native binding took the bytearray's address before it converted the spans:
    # a span whose conversion grows the bytearray moves it, and the transform then wrote the
    # keystream and the tag into the freed block, over the objects the heap had put there since.
    for name, b in each_backend():
        t = b.SrtpTransform(bytes(16), bytes(14), bytes(20), 10)
        plain = bytes(range(40))
        want = bytearray(plain + bytes(10))
        t.protect(want, 12, 40, 40, 1, 5, 0)
        stream = getattr(b, "SrtpStream", None)
        calls = [lambda buf, grows: t.protect(buf, 12, grows(40), 40, 1, 5, 0)]
        if stream is not None:
            rtp = b"\x80\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x01" + plain[12:]
            fresh = bytearray(rtp + bytes(10))
            t.protect_next(fresh, 40, stream(b"\x00\x00\x00\x01", 1, 5))
            calls.append(lambda buf, grows: t.protect_next(buf, grows(40), stream(b"\x00\x00\x00\x01", 1, 5)))
        for i, call in enumerate(calls):
            buf = bytearray((plain if i == 0 else rtp) + bytes(10))
            victims = []

            def grow():
                buf.extend(bytes(4096))  # moves the bytearray's data to a new block
                for _ in range(48):  # the freed block goes to whatever comes next
                    victims.append(bytearray(b"\xaa" * 50))

            try:
                n = call(buf, lambda v: _Grows(v, grow))
            except TypeError:
                n = None  # a pure backend takes no int-like spans: nothing written
            for v in victims:
                assert v == b"\xaa" * 50, (name, i, "a freed block was written")
            if n is not None:
                assert n == 50, (name, i, n)
                assert bytes(buf[0:50]) == (want if i == 0 else fresh), (name, i)


def _read_memory(addr, out):
    """Copy len(OUT) bytes of this process's memory at ADDR into OUT (allocated beforehand, so
    that the copy does not land in the memory it reads)."""
    try:
        import uctypes
        out[:] = uctypes.bytearray_at(addr, len(out))
    except ImportError:
        import ctypes
        out[:] = ctypes.string_at(addr, len(out))


def _dropped_transform(b, salt):
    t = b.SrtpTransform(bytes(16), salt, bytes(20), 10)
    buf = bytearray(60)
    t.protect(buf, 12, 40, 40, 1, 5, 0)
    return id(t)  # the object's address on both interpreters


def _deep(n):
    return _deep(n - 1) + 1 if n else 0


def test_a_transform_dropped_without_wipe_leaves_no_key_in_the_free_heap():
    # The call's session ends in Session.wipe(); a transform dropped on another path was freed by
    # MicroPython's collector with its C state (session salt, AES round keys, HMAC pad states)
    # intact in the free heap. The object's own memory must hold no key once it is collected.
    import gc
    for name, b in each_backend():
        salt = bytes((0x5A + 37 * i) & 0xFF for i in range(14))
        seen = bytearray(1024)
        addr = _dropped_transform(b, salt)
        _deep(40)  # no stale reference to it on the C stack
        gc.collect()
        gc.collect()
        _read_memory(addr, seen)
        assert salt not in seen, name
