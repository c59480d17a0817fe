"""The helper's configuration: an INI file (see icehelper.conf.example), checked at start.

Every value has a safe default except the listeners: at least one of ``https`` (with ``cert`` and
``key``) and ``http`` must be given. A bad value stops the start with a ValueError naming the
section and key.
"""
import configparser
import ipaddress
from pathlib import Path

LIFETIME = 300  # ZSipOs: an offer lives 5 minutes from its last write


class Limit:
    """``count/seconds``: at most COUNT requests per client address in each SECONDS window."""

    __slots__ = ("count", "seconds")

    def __init__(self, count, seconds):
        self.count, self.seconds = count, seconds

    @classmethod
    def parse(cls, where, text):
        try:
            count, _, seconds = text.partition("/")
            limit = cls(int(count), int(seconds or 1))
        except ValueError:
            raise ValueError("config: %s: %r is not COUNT/SECONDS" % (where, text)) from None
        if limit.count < 0 or limit.seconds < 1:
            raise ValueError("config: %s: %r: COUNT >= 0 (0: no limit), SECONDS >= 1"
                             % (where, text))
        return limit


def _hostport(where, text):
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("config: %s: %r is not HOST:PORT" % (where, text))
    if not 0 < int(port) < 65536:
        raise ValueError("config: %s: port %s is not 1-65535" % (where, port))
    return host.strip("[]") or "0.0.0.0", int(port)


def _read(cp, text):
    """TEXT into CP; a file that is no INI file is a ValueError naming the line."""
    try:
        cp.read_string(text)
    except configparser.MissingSectionHeaderError as e:
        raise ValueError("config: line %d: no [section] before %r" % (e.lineno, e.line)) from None
    except configparser.DuplicateOptionError as e:
        raise ValueError("config: line %d: [%s] %s given twice" % (e.lineno, e.section, e.option)
                         ) from None
    except configparser.DuplicateSectionError as e:
        raise ValueError("config: line %d: [%s] given twice" % (e.lineno, e.section)) from None
    except configparser.ParsingError as e:
        lineno, line = e.errors[0]
        raise ValueError("config: line %d: not KEY = VALUE: %s" % (lineno, line)) from None
    except configparser.Error as e:
        raise ValueError("config: %s" % e.message) from None


def _networks(where, text):
    try:
        return [ipaddress.ip_network(t, strict=False) for t in text.split()]
    except ValueError as e:
        raise ValueError("config: %s: %s" % (where, e)) from None


class Config:
    def __init__(self, text="", base=Path(".")):
        cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#",))
        _read(cp, text)
        g = lambda sec, key, default="": cp.get(sec, key, fallback=default).strip()  # noqa: E731

        def num(sec, key, default, low=0):
            try:
                value = int(g(sec, key, str(default)))
            except ValueError:
                raise ValueError("config: [%s] %s: not a number" % (sec, key)) from None
            if value < low:
                raise ValueError("config: [%s] %s: at least %d" % (sec, key, low))
            return value

        def path(sec, key):
            value = g(sec, key)
            return str((base / value).resolve()) if value else ""

        self.https = _hostport("[server] https", g("server", "https")) if g("server", "https") \
            else None
        self.http = _hostport("[server] http", g("server", "http")) if g("server", "http") else None
        self.cert, self.key = path("server", "cert"), path("server", "key")
        if self.https and not (self.cert and self.key):
            raise ValueError("config: [server] https needs cert and key")
        if not self.https and not self.http:
            raise ValueError("config: [server] needs https (with cert and key) or http")
        self.trusted_proxies = _networks("[server] trusted_proxies", g("server", "trusted_proxies"))
        self.metrics_from = _networks("[server] metrics_from",
                                      g("server", "metrics_from", "127.0.0.0/8 ::1"))
        self.log_level = g("server", "log_level", "info").upper()
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("config: [server] log_level: debug, info, warning or error, not %r"
                             % g("server", "log_level"))
        self.max_connections_per_address = num("server", "max_connections_per_address", 64)
        self.request_timeout = num("server", "request_timeout", 10, 1)

        self.backend = g("store", "backend", "memory")
        if self.backend not in ("memory", "redis"):
            raise ValueError("config: [store] backend: memory or redis, not %r" % self.backend)
        self.redis_url = g("store", "redis_url", "redis://127.0.0.1:6379/0")
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("config: [store] redis_url: redis://, rediss:// or unix://, not %r"
                             % self.redis_url)
        self.redis_prefix = g("store", "redis_prefix", "icehelper:")
        self.lifetime = num("store", "lifetime", LIFETIME, 1)
        self.max_offers = num("store", "max_offers", 100000, 1)
        self.max_reads = num("store", "max_reads", 10, 1)
        self.max_offer_bytes = num("store", "max_offer_bytes", 8192, 64)
        self.max_wait = min(5, num("store", "max_wait", 5))

        self.limits = {kind: Limit.parse("[limits] " + kind, g("limits", kind, default))
                       for kind, default in (("put", "30/60"), ("post", "60/60"),
                                             ("get", "120/60"), ("miss", "10/60"))}

        secret = g("turn", "secret")
        if g("turn", "secret_file"):
            try:
                secret = Path(path("turn", "secret_file")).read_text().strip()
            except OSError as e:
                raise ValueError("config: [turn] secret_file: cannot read %s (%s)"
                                 % (path("turn", "secret_file"), e.strerror)) from None
        self.turn_secret = secret
        self.turn_ttl = num("turn", "ttl", 12 * 3600, 1)
        self.turn_uris = g("turn", "uris").split()
        if self.turn_uris and not self.turn_secret:
            raise ValueError("config: [turn] uris need secret or secret_file")

    @classmethod
    def load(cls, filename):
        p = Path(filename)
        return cls(p.read_text(), p.parent)
