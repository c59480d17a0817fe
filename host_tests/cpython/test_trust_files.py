"""Issue 12, item 4: files that hold secrets on the host (the ZRTP trust cache) are created mode
0600 in a 0700 directory, whatever the umask."""
import os
import stat

from zerotap.storage import Storage
from zerotap.zrtp import cache as zcache


def test_cache_files_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        st = Storage(str(tmp_path / "zt" / "cache"))
        c = zcache.Cache(st)
        c.store(b"peer-zid-123", b"s" * 32)
        assert c.save()
    finally:
        os.umask(old)
    f = tmp_path / "zt" / "cache" / zcache.FILE_NAME
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    record = tmp_path / "zt" / "cache" / ("zrtp_cache_" + b"peer-zid-123".hex())  # its secrets
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "zt" / "cache").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "zt").stat().st_mode) == 0o700


def test_a_stale_world_readable_temporary_file_does_not_leak_its_mode(tmp_path):
    st = Storage(str(tmp_path))
    tmp = tmp_path / (zcache.FILE_NAME + ".tmp")
    tmp.write_bytes(b"old")
    os.chmod(tmp, 0o644)
    st.write(zcache.FILE_NAME, b"secret")
    assert stat.S_IMODE((tmp_path / zcache.FILE_NAME).stat().st_mode) == 0o600
