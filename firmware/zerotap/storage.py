"""Files on flash or disk: atomic replacement, and a place aside for files that turn out corrupt.

A write goes to ``NAME.tmp`` first and is renamed over ``NAME`` only when complete, so a power cut
leaves either the old or the new file, never half of one. Writes happen at the end of a call, not
per packet, to spare the flash. ``fs`` is the ``os`` module by default; tests pass a stand-in.
"""
import os

_ENOENT = 2
_TMP = ".tmp"


def _exists(fs, path):
    try:
        fs.stat(path)
        return True
    except OSError:
        return False


class Storage:
    """Files under one directory (a board's flash root, or a folder on the host)."""

    def __init__(self, directory, fs=None):
        self.fs = fs or os
        self.directory = directory.rstrip("/") or "/"
        self._ensure(self.directory)

    def _ensure(self, directory):
        path = ""
        for part in directory.split("/"):
            if not part:
                path = path or "/"
                continue
            path = part if not path else (path + part if path.endswith("/") else path + "/" + part)
            if not _exists(self.fs, path):
                self.fs.mkdir(path)

    def path(self, name):
        if not name or "/" in name or name in (".", ".."):
            raise ValueError("bad storage file name %r" % (name,))
        return self.directory + "/" + name

    def read(self, name):
        """The file's bytes, or None when it does not exist."""
        try:
            with open(self.path(name), "rb") as f:
                return f.read()
        except OSError as e:
            if e.args and e.args[0] == _ENOENT:
                return None
            raise

    def write(self, name, data):
        """Replace NAME with DATA atomically (temporary file, then rename)."""
        path = self.path(name)
        tmp = path + _TMP
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            sync = getattr(self.fs, "fsync", None)
            if sync is not None:
                sync(f.fileno())
        self.fs.rename(tmp, path)

    def set_aside(self, name):
        """Keep a corrupt NAME as NAME.bad (NAME.bad1, ...) and return the new name."""
        path = self.path(name)
        n = 0
        while True:
            aside = name + ".bad" + (str(n) if n else "")
            if not _exists(self.fs, self.path(aside)):
                break
            n += 1
        self.fs.rename(path, self.path(aside))
        return aside

    def remove(self, name):
        try:
            self.fs.remove(self.path(name))
        except OSError:
            pass
