"""Atomic writes survive a crash between write and rename; corrupt files are set aside."""
import os

from support import fresh_storage
from zerotap.storage import Storage


class _CrashBeforeRename:
    """os, except that rename() loses power."""

    def __init__(self):
        self.crashed = False

    def stat(self, path):
        return os.stat(path)

    def mkdir(self, path):
        return os.mkdir(path)

    def remove(self, path):
        return os.remove(path)

    def rename(self, old, new):
        self.crashed = True
        raise OSError(5)


def test_write_then_read_round_trips():
    st = fresh_storage("rw")
    assert st.read("cache.bin") is None
    st.write("cache.bin", b"\x00\x01zrtp")
    assert st.read("cache.bin") == b"\x00\x01zrtp"
    st.write("cache.bin", b"new")
    assert st.read("cache.bin") == b"new"


def test_crash_between_write_and_rename_keeps_the_old_file():
    st = fresh_storage("crash")
    st.write("config.json", b'{"a": 1}')
    crashing = Storage(st.directory, fs=_CrashBeforeRename())
    try:
        crashing.write("config.json", b'{"a": 2')
        raise AssertionError("the simulated crash did not happen")
    except OSError:
        pass
    assert crashing.fs.crashed
    assert st.read("config.json") == b'{"a": 1}'
    st.write("config.json", b'{"a": 3}')  # the next write after the reboot works
    assert st.read("config.json") == b'{"a": 3}'


def test_set_aside_keeps_every_bad_copy():
    st = fresh_storage("aside")
    st.write("zid.cache", b"garbage 1")
    assert st.set_aside("zid.cache") == "zid.cache.bad"
    st.write("zid.cache", b"garbage 2")
    assert st.set_aside("zid.cache") == "zid.cache.bad1"
    assert st.read("zid.cache") is None
    assert st.read("zid.cache.bad") == b"garbage 1"
    assert st.read("zid.cache.bad1") == b"garbage 2"


def test_names_cannot_escape_the_directory():
    st = fresh_storage("names")
    for bad in ("", "..", "a/b", "/etc/passwd"):
        try:
            st.path(bad)
            raise AssertionError("accepted %r" % bad)
        except ValueError as e:
            assert "bad storage file name" in str(e)


def test_set_aside_keeps_a_bounded_number_of_bad_copies():
    # a file that keeps getting corrupt (a failing flash sector, a power cut at every boot):
    # each time another NAME.badN was made, without a bound, until the flash was full; and
    # each set-aside looked at every earlier copy first. The first copies are kept (what went
    # wrong first) and the newest (what goes wrong now) replaces the last one.
    st = fresh_storage("aside-bound")
    for i in range(20):
        st.write("bindings.json", b"garbage %d" % i)
        st.set_aside("bindings.json")
    bad = sorted(st.names("bindings.json.bad"))
    assert bad == ["bindings.json.bad", "bindings.json.bad1", "bindings.json.bad2",
                   "bindings.json.bad3"], bad
    assert st.read("bindings.json.bad") == b"garbage 0"
    assert st.read("bindings.json.bad2") == b"garbage 2"
    assert st.read("bindings.json.bad3") == b"garbage 19"
