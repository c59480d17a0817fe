"""Files on flash or disk: atomic replacement, and a place aside for files that turn out corrupt.

A write goes to ``NAME.tmp`` first and is renamed over ``NAME`` only when complete, so a power cut
leaves either the old or the new file, never half of one. Writes happen at the end of a call, not
per packet, to spare the flash. ``fs`` is the ``os`` module by default; tests pass a stand-in.

Files may hold secrets (the ZRTP cache's retained secrets): where the interpreter can (CPython),
directories are made mode 0700 and files are created mode 0600, whatever the umask. MicroPython's
``os`` has no modes (a board's flash has none; on the unix port the umask decides).
"""
import os

_ENOENT = 2
_TMP = ".tmp"


# CPython: os.open with O_CREAT and a mode; None where os has no such thing (MicroPython)
_PRIVATE = (os.O_WRONLY | os.O_CREAT | os.O_TRUNC) if hasattr(os, "O_CREAT") else None


def _create(fs, path):
    """PATH opened for writing, created mode 0600 where the interpreter allows."""
    if _PRIVATE is not None and fs is os:
        try:
            os.unlink(path)  # a stale temporary file would keep its old mode
        except OSError:
            pass
        return open(os.open(path, _PRIVATE, 0o600), "wb")
    return open(path, "wb")


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
                if _PRIVATE is not None and self.fs is os:
                    self.fs.mkdir(path, 0o700)
                else:
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
        with _create(self.fs, tmp) as f:
            f.write(data)
            f.flush()
            sync = getattr(self.fs, "fsync", None)
            if sync is not None:
                sync(f.fileno())
        self.fs.rename(tmp, path)

    def set_aside(self, name):
        """Keep a corrupt NAME as NAME.bad (NAME.bad1 to NAME.bad3) and return the new name. At
        most four copies: the first three stay, the newest replaces NAME.bad3 (the flash does
        not fill with a file that keeps getting corrupt)."""
        path = self.path(name)
        n = 0
        while True:
            aside = name + ".bad" + (str(n) if n else "")
            if n == 3 or not _exists(self.fs, self.path(aside)):
                break
            n += 1
        self.fs.rename(path, self.path(aside))
        return aside

    def names(self, prefix=""):
        """The names of the files whose name starts with PREFIX, one at a time (``os.ilistdir``
        where the interpreter has it: no list of the whole directory in RAM)."""
        ilistdir = getattr(self.fs, "ilistdir", None)
        if ilistdir is not None:
            for entry in ilistdir(self.directory):
                if entry[0].startswith(prefix):
                    yield entry[0]
            return
        for name in self.fs.listdir(self.directory):
            if name.startswith(prefix):
                yield name

    def remove(self, name):
        try:
            self.fs.remove(self.path(name))
        except OSError:
            pass
