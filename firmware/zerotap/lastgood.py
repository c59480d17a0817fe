"""A bad configuration leaves the last good one in use, and says which key is at fault.

The box's config loader calls :func:`load` with its own parser (``zerotap.config.loads``, which
raises ``ConfigError`` naming the key):

    cfg, error = lastgood.load(storage, "config.json", config.loads, box)

- a valid NAME is used, and copied to ``NAME.good`` (atomically, only when it changed; a flash
  too full for the copy does not stop it);
- an invalid or missing NAME is left where it is for the person to fix, ``NAME.good`` is used
  instead, and ``box.set_config_error(key, message)`` shows CONFIG ERROR with the key at fault
  (and "last good in use": ``box.config_fallback``, a field of the status model);
- ``cfg`` is None when there is no good copy either.

A board's boot passes ``keep=False``: a config that parses may still name an address the box
does not have, or a port another program holds, so it becomes the good copy only once the box
started on it (its sockets bound: :func:`started`); one that cannot start is refused with
:func:`fallback`, as one that does not parse, and the good copy runs instead.
"""
GOOD = ".good"


def _key_and_message(e):
    key = getattr(e, "key", None)
    text = str(e)
    if key is None:
        key, sep, rest = text.partition(": ")
        if not sep or " " in key:
            return "config", text
        return key, rest
    reason = getattr(e, "reason", None)
    if reason is None:
        prefix = key + ": "
        reason = text[len(prefix):] if text.startswith(prefix) else text
    return key, reason


def _read(storage, name):
    """NAME's bytes, None when it is missing, or the OSError that reading it raised (a damaged
    flash: littlefs answers EIO)."""
    try:
        return storage.read(name)
    except OSError as e:
        return e


def _parse(parse, data):
    return parse(data.decode() if isinstance(data, (bytes, bytearray)) else data)


def started(storage, name):
    """NAME (the box started on it) becomes the good copy ``NAME.good``: atomically, only when it
    changed; a flash too full for the copy leaves the old copy whole."""
    data = storage.read(name)
    if data is not None and storage.read(name + GOOD) != data:
        try:
            storage.write(name + GOOD, data)
        except OSError:  # a full flash: the good config runs; the old copy stays whole
            pass


def load(storage, name, parse, box=None, keep=True):
    """(config, error): ERROR is None or (key, message). See the module doc; with KEEP false a
    valid NAME is not copied to the good copy (the caller calls :func:`started` once the box
    runs on it)."""
    data = _read(storage, name)
    if data is None:
        error = ("config", "%s is missing" % name)
    elif isinstance(data, OSError):
        error = ("config", "%s cannot be read (%s)" % (name, data))
    else:
        try:
            cfg = _parse(parse, data)
        except ValueError as e:  # ConfigError, JSON errors, UnicodeError
            error = _key_and_message(e)
        else:
            if keep:
                started(storage, name)
            if box is not None and box.config_error is not None:
                box.set_config_error(None, None)
            return cfg, None
    return fallback(storage, name, parse, box, error), error


def fallback(storage, name, parse, box, error):
    """The good copy's config for a NAME refused for ERROR ((key, message)), or None when there
    is none (or it is NAME itself: a config refused for what it says, not for its syntax).
    BOX shows ERROR, and "last good in use" when there is one."""
    cfg = None
    good = _read(storage, name + GOOD)
    if isinstance(good, bytes) and good != _read(storage, name):
        try:
            cfg = _parse(parse, good)
        except ValueError:
            cfg = None  # the good copy no longer parses (a newer firmware's rules): nothing to use
    if box is not None:
        box.set_config_error(error[0], error[1], cfg is not None)  # "last good in use" when set
    return cfg
