"""CRC-32C (check value, RFC 3720 B.4), the random source, and the backend choice."""
from zerotap import crypto
from vectors import load, unhex
from support import each_backend, raises

CRC = load("crypto_crc32c.json")


def test_crc32c_check_value():
    for name, b in each_backend():
        assert b.crc32c(b"123456789") == 0xE3069283, name


def test_crc32c_known_answers_and_chaining():
    for name, b in each_backend():
        for v in CRC["vectors"]:
            data = unhex(v["data"])
            want = int(v["crc"], 16)
            assert b.crc32c(data) == want, (name, v["data"][:8])
            cut = len(data) // 3
            assert b.crc32c(data[cut:], b.crc32c(data[:cut])) == want, (name, "chained")


def test_random_bytes_length_and_variety():
    for name, b in each_backend():
        a = b.random_bytes(32)
        c = b.random_bytes(32)
        assert isinstance(a, bytes) and len(a) == 32 and a != c, name
        assert b.random_bytes(0) == b""


def test_backend_is_the_first_that_loads():
    names = crypto.backends()
    assert crypto.BACKEND == names[0]
    assert crypto.backend(crypto.BACKEND).sha1 is crypto.sha1
    for n in names:
        assert n in ("native", "micropython", "python")


def test_unknown_backend_name():
    try:
        crypto.backend("openssl")
    except ValueError as e:
        assert str(e) == "unknown crypto backend 'openssl' (known: native, micropython, python)"
        return
    raise AssertionError("no ValueError")


def _failing_import(fail, error):
    # a board whose heap cannot hold backend FAIL: its import raises ERROR
    real = crypto._import

    def imp(name):
        if name == fail:
            raise error
        return real(name)
    return real, imp


def test_a_backend_that_does_not_fit_is_skipped_with_its_reason():
    names = crypto.backends()
    victim = names[-1]
    if victim == crypto.BACKEND:  # only one backend here: nothing to skip around
        return
    crypto.release(victim)
    error = MemoryError("memory allocation failed, allocating 1024 bytes")
    real, crypto._import = _failing_import(victim, error)
    try:
        assert crypto.backends() == names[:-1]
        assert crypto.skipped()[victim] == "MemoryError: memory allocation failed, allocating 1024 bytes"
        try:
            crypto.backend(victim)
        except ImportError as e:
            assert str(e) == ("crypto backend %r does not fit in the heap (MemoryError: memory allocation "
                              "failed, allocating 1024 bytes)" % victim)
        else:
            raise AssertionError("no ImportError")
    finally:
        crypto._import = real
    assert crypto.backends() == names  # it loads again once the heap has room
    assert victim not in crypto.skipped()


def test_a_memory_error_is_not_swallowed_as_anything_else():
    # only ImportError and MemoryError mean "does not load"; a defect in a backend still raises
    names = crypto.backends()
    victim = names[-1]
    if victim == crypto.BACKEND:
        return
    crypto.release(victim)
    real, crypto._import = _failing_import(victim, ZeroDivisionError("a defect"))
    try:
        crypto.backends()
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("a ZeroDivisionError in a backend's import was swallowed")
    finally:
        crypto._import = real
    assert crypto.backends() == names


def test_release_lets_go_of_a_backend_and_it_loads_anew():
    import sys
    names = crypto.backends()
    raises(lambda: crypto.release(crypto.BACKEND),
           "crypto backend %r is the one in use and cannot be released" % crypto.BACKEND)
    raises(lambda: crypto.release("openssl"),
           "unknown crypto backend 'openssl' (known: native, micropython, python)")
    for name in names:
        if name == crypto.BACKEND:
            continue
        old = crypto.backend(name)
        assert crypto.release(name) is True
        assert crypto.release(name) is False
        assert "zerotap.crypto.backend_" + name not in sys.modules
        new = crypto.backend(name)
        assert new is not old
        assert new.sha256(b"abc") == crypto.sha256(b"abc")


def test_a_backend_that_does_not_load_leaves_no_module_behind():
    # on a board, backend_native imports but has no _zcrypto: it must not keep its module in RAM
    import sys
    for name in crypto.ORDER:
        if name not in crypto.backends():
            assert "zerotap.crypto.backend_" + name not in sys.modules, name
            assert crypto.skipped()[name].startswith("ImportError: "), crypto.skipped()
