"""The box's configuration (``CONFIG.json``): strict validation that names the key at fault.

A whole example, every key shown (only ``phone.sip``, ``phone.allow``, ``network.sip``,
``phone.rtp`` and ``network.rtp`` are required)::

    {
      "phone":   {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1", "192.168.1.0/24"],
                  "rtp": "40000-40099", "contact": "sip:phone@127.0.0.1:5062"},
      "network": {"sip": "127.0.0.1:5080", "proxy": "127.0.0.1:5060", "rtp": "42000-42099",
                  "address": "203.0.113.5"},
      "zrtp":    {"key_agreement": ["DH3k", "X255"], "cipher": ["AES1", "AES3"],
                  "hash": ["S256"], "auth": ["HS80", "HS32"], "sas": ["B32", "B256"],
                  "cache": "zerotap-cache"},
      "media":   {"clear": "pass"},
      "status":  "-",
      "control": "127.0.0.1:5079"
    }

- ``phone.sip`` / ``network.sip``: the box's two SIP sockets, ``host:port`` with a literal IPv4
  address or a bracketed IPv6 one (``[::1]:5070``).
- ``phone.allow``: the addresses or CIDRs allowed to use the box; other sources get 403.
- ``phone.rtp`` / ``network.rtp``: ``"LOW-HIGH"`` port ranges; each call takes one even/odd pair
  (RTP, RTCP) on each side, so a range that holds no such pair (``"40001-40002"``) is refused.
- ``phone.contact``: optional SIP URI where calls from the network go while no phone has
  registered through the box.
- ``network.proxy``: optional upstream proxy (``host:port``): the first hop of requests that start
  a dialog. Without it, requests are routed by Route and Request-URI.
- ``network.interface``: optional, on the host: the interface the box follows (``"eth0"``).
  Its link going down shows ``network: down``; an address change (a new DHCP lease) binds the
  sockets of the sides that had the old address to the new one and registers the phones again
  (docs/appliance.md). A board follows its own interface without it.
- ``network.allow``: optional addresses or CIDRs (like ``phone.allow``) that may start dialogs
  (INVITE, SUBSCRIBE, REFER, NOTIFY) from the network side besides ``network.proxy`` and the
  registrar the phone registers with; every other host gets 403 (the box is no open relay).
- ``phone.address`` / ``network.address``: optional address to advertise in Via, Record-Route and
  SDP instead of the socket's (required when a socket binds the wildcard address).
- ``zrtp.*``: the algorithm offer order for each type, by ZRTP name (the names and the defaults
  live in :mod:`zerotap.zrtp.algorithms`, ``NAMES`` and ``DEFAULTS``), and ``zrtp.cache``: the
  directory of the trust cache (``zrtp_cache.bin``: our ZID; one ``zrtp_cache_<peer ZID>`` file
  of retained secrets per peer, :mod:`zerotap.zrtp.cache`).
- ``media.clear``: what happens to audio before the call is secure: ``pass`` (the default; the status
  says CLEAR), ``mute`` (silence is relayed) or ``block`` (nothing is relayed).
- ``media.timeout_s``: an answered call whose phone or far end sends no media (RTP, RTCP, ZRTP)
  for this many seconds is ended with BYE both ways (default 60; 5 to 3600, or 0: never).
- ``status``: a path for the JSON status lines, or ``-`` for stdout.
- ``control``: the loopback address of the local control socket (``python -m zerotap control``).
- ``board``: the display, the button, the keypad codes and Wi-Fi (all optional; see
  :class:`BoardSettings`)::

    "board": {
      "wifi":        {"ssid": "office", "password": "secret"},
      "display":     {"width": 128, "height": 64, "address": 60, "flip": false,
                      "terminal": false, "png": "panel.png"},
      "dim_after_s": 60,
      "button":      {"hold_ms": 800},
      "keypad":      {"*#1": "verified", "*#0": "unverified"}
    }

  ``wifi``: the network a board joins when it has no Ethernet, or when Ethernet finds no link.
  ``display``: the SSD1306's height (32 or 64), I2C address and orientation on a board; on the
  host, ``terminal`` draws the panel on stdout and ``png`` rewrites a PNG snapshot at every frame
  (both off by default: the host box then has no display at all). ``dim_after_s``: burn-in
  protection. ``button.hold_ms``: how long a press must last to switch calls. ``keypad``: codes
  typed on the phone during a call, caught by the box and not forwarded (``{}`` turns them off).

:func:`load` / :func:`parse` return a :class:`Config` whose attributes mirror the JSON
(``cfg.phone.allow``, ``cfg.network.proxy``, ``cfg.zrtp.hash``, ``cfg.media.clear``,
``cfg.board.display.height``...), or raise :class:`ConfigError` (a ``ValueError``) whose message
starts with the key, e.g. ``phone.allow[1]: bad address or CIDR '10.0.0.0/33'``. Unknown keys, wrong types and
bad addresses are refused. On a board (``dhcp=True``) a wildcard bind may go without
``phone.address``/``network.address``: the address the network bring-up got is used.
"""
import json

from zerotap.ui import keypad as _keypad
from zerotap.zrtp import algorithms as _algorithms

MEDIA_CLEAR = ("pass", "mute", "block")

# ZRTP algorithm names (RFC 6189 section 5.1.2 to 5.1.6, with the Curve25519 alias "E255") and
# the default offer: zerotap.zrtp.algorithms holds them, by family (the zrtp keys below).
ZRTP_FAMILIES = _algorithms.FAMILIES
ZRTP_ALGORITHMS = _algorithms.NAMES
ZRTP_DEFAULTS = _algorithms.DEFAULTS
DEFAULT_CONTROL = "127.0.0.1:5079"
DEFAULT_CACHE = "zerotap-cache"


class ConfigError(ValueError):
    """A refused configuration; ``key`` names the key at fault (``phone.allow[1]``)."""

    def __init__(self, key, message):
        super().__init__("%s: %s" % (key, message))
        self.key = key
        self.reason = message


def _type_name(value):
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return "a " + type(value).__name__


def _want(key, value, kind, what):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(key, "must be %s, not %s" % (what, _type_name(value)))
    return value


# --- addresses ----------------------------------------------------------------------------------

def _digits(text):
    """TEXT is ASCII digits (CPython's str.isdigit() takes '²' and '٣' too; int('²') fails)."""
    if not text:
        return False
    for c in text:
        if c not in "0123456789":
            return False
    return True


def _ipv4(text):
    """The 4 bytes of a dotted-quad IPv4 address, or None."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    out = bytearray(4)
    for i in range(4):
        p = parts[i]
        if not p or len(p) > 3 or not _digits(p) or (len(p) > 1 and p[0] == "0"):
            return None
        n = int(p)
        if n > 255:
            return None
        out[i] = n
    return bytes(out)


def _ipv6(text):
    """The 16 bytes of an IPv6 address (RFC 4291 section 2.2 text forms), or None."""
    if not text or "%" in text:
        return None
    tail = b""
    if "." in text:  # an embedded IPv4 address in the last 32 bits
        i = text.rfind(":")
        tail = _ipv4(text[i + 1:])
        if tail is None:
            return None
        text = text[:i + 1] + "0:0"
    halves = text.split("::")
    if len(halves) > 2:
        return None

    def groups(s):
        if not s:
            return []
        out = []
        for g in s.split(":"):
            if not g or len(g) > 4:
                return None
            for c in g:
                if c not in "0123456789abcdefABCDEF":
                    return None
            out.append(int(g, 16))
        return out

    head = groups(halves[0])
    rest = groups(halves[1]) if len(halves) == 2 else []
    if head is None or rest is None:
        return None
    if len(halves) == 2:
        if len(head) + len(rest) > 7:
            return None
        words = head + [0] * (8 - len(head) - len(rest)) + rest
    else:
        words = head
    if len(words) != 8:
        return None
    out = bytearray(16)
    for i in range(8):
        out[2 * i] = words[i] >> 8
        out[2 * i + 1] = words[i] & 0xFF
    if tail:
        out[12:16] = tail
    return bytes(out)


def ip_bytes(text):
    """The packed form (4 or 16 bytes) of a literal IP address, or None."""
    if ":" in text:
        return _ipv6(text)
    return _ipv4(text)


_HOSTNAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."


def _hostname(text):
    if not text or len(text) > 253 or text[0] in "-." or text[-1] == "-":
        return False
    for c in text:
        if c not in _HOSTNAME_CHARS:
            return False
    return not text.replace(".", "").isdigit()


def parse_hostport(key, text, hostnames=False):
    """``host:port`` (IPv6 as ``[addr]:port``) -> (host, port), or ConfigError naming KEY."""
    _want(key, text, str, "a string 'host:port'")
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1:end + 2] != ":":
            raise ConfigError(key, "bad address %r: want [IPv6]:port" % text)
        host = text[1:end]
        port_text = text[end + 2:]
        if _ipv6(host) is None:
            raise ConfigError(key, "bad IPv6 address %r" % host)
    else:
        i = text.rfind(":")
        if i <= 0 or text.count(":") != 1:
            raise ConfigError(key, "bad address %r: want host:port" % text)
        host = text[:i]
        port_text = text[i + 1:]
        if _ipv4(host) is None and not (hostnames and _hostname(host)):
            raise ConfigError(key, "bad %s %r" % ("host" if hostnames else "IPv4 address", host))
    if not _digits(port_text) or not 0 < int(port_text) < 65536:
        raise ConfigError(key, "bad port %r" % port_text)
    return host, int(port_text)


class Network:
    """A set of addresses and CIDR blocks (IPv4 and IPv6) for ``phone.allow`` and ``network.allow``."""

    def __init__(self, key, entries):
        self._blocks = []
        _want(key, entries, list, "a list of addresses or CIDRs")
        if not entries:
            raise ConfigError(key, "must not be empty")
        for i in range(len(entries)):
            k = "%s[%d]" % (key, i)
            text = _want(k, entries[i], str, "a string")
            addr, _, bits = text.partition("/")
            packed = ip_bytes(addr)
            if packed is None:
                raise ConfigError(k, "bad address or CIDR %r" % text)
            width = 8 * len(packed)
            if bits:
                if not _digits(bits) or int(bits) > width:
                    raise ConfigError(k, "bad address or CIDR %r" % text)
                n = int(bits)
            else:
                n = width
            self._blocks.append((packed, n))

    def __contains__(self, host):
        packed = ip_bytes(host)
        if packed is None:
            return False
        if len(packed) == 16 and packed[:12] == b"\0" * 10 + b"\xff\xff":
            v4 = packed[12:]  # IPv4-mapped (RFC 4291 section 2.5.5.2)
        else:
            v4 = None
        for block, n in self._blocks:
            cand = v4 if (len(block) == 4 and v4 is not None) else packed
            if len(cand) != len(block):
                continue
            whole, rest = n // 8, n % 8
            if cand[:whole] != block[:whole]:
                continue
            if rest and (cand[whole] ^ block[whole]) & (0xFF << (8 - rest)) & 0xFF:
                continue
            return True
        return False


def _port_range(key, value):
    _want(key, value, str, "a string 'LOW-HIGH'")
    low, sep, high = value.partition("-")
    if not sep or not _digits(low) or not _digits(high):
        raise ConfigError(key, "bad port range %r: want LOW-HIGH" % value)
    low, high = int(low), int(high)
    if not 1024 <= low < 65536 or not 1024 <= high < 65536 or high < low + 1:
        raise ConfigError(key, "bad port range %r: want 1024 <= LOW < HIGH <= 65535" % value)
    if high < (low + 1) | 1:  # RTP on an even port, RTCP on the next (RFC 3550 section 11)
        raise ConfigError(key, "bad port range %r: no even/odd port pair (RTP, RTCP) in it"
                          % value)
    return low, high


def _sip_uri(key, value):
    _want(key, value, str, "a SIP URI string")
    if not value.startswith("sip:") or len(value) < 5:
        raise ConfigError(key, "bad SIP URI %r" % value)
    rest = value[4:]
    hostport = rest.split("@")[-1].split(";")[0]
    if hostport.startswith("["):
        parse_hostport(key, hostport if "]:" in hostport else hostport + ":5060")
    elif ":" in hostport:
        parse_hostport(key, hostport, hostnames=True)
    elif not (_ipv4(hostport) or _hostname(hostport)):
        raise ConfigError(key, "bad SIP URI %r" % value)
    return value


class Side:
    """``phone`` or ``network``: the box's SIP socket on that side, its address and RTP ports;
    ``allow`` on both sides (the network's optional), ``contact`` on the phone side, ``proxy`` on
    the network side (None elsewhere)."""

    def __init__(self, sip, address, rtp):
        self.host, self.port = sip
        self.address = address or self.host  # what Via, Record-Route and SDP carry
        self.rtp = rtp  # (low, high)
        self.allow = None  # phone.allow / network.allow: a Network (network.allow: None when unset)
        self.contact = None  # phone.contact: a SIP URI (text) or None
        self.proxy = None  # network.proxy: (host, port) or None


class ZrtpSettings:
    """``zrtp``: the offer order of each family (lists of names) and the trust cache's directory."""

    def __init__(self):
        for kind in ZRTP_FAMILIES:
            setattr(self, kind, list(ZRTP_DEFAULTS[kind]))
        self.cache = DEFAULT_CACHE


# media.timeout_s: an answered call whose phone or far end sends nothing for this long is ended
# (0: never); the bounds keep RTCP-only hold music alive and a dead call from lasting an hour
DEFAULT_MEDIA_TIMEOUT_S = 60
MEDIA_TIMEOUT_MIN_S = 5
MEDIA_TIMEOUT_MAX_S = 3600


class MediaSettings:
    """``media``: ``clear`` is what happens to audio before the call is SECURE."""

    def __init__(self):
        self.clear = "pass"
        self.timeout_s = DEFAULT_MEDIA_TIMEOUT_S  # no media this long on an answered call: BYE


class Config:
    """A validated configuration. Attributes mirror the JSON keys: ``cfg.phone.allow``,
    ``cfg.network.proxy``, ``cfg.zrtp.hash``, ``cfg.zrtp.cache``, ``cfg.media.clear``,
    ``cfg.status``, ``cfg.control`` ((host, port)), ``cfg.board`` (:class:`BoardSettings`)."""

    def __init__(self):
        self.phone = None  # a Side
        self.network = None  # a Side
        self.zrtp = ZrtpSettings()
        self.media = MediaSettings()
        self.status = "-"
        self.control = None  # (host, port)
        self.board = BoardSettings()
        self.ice = IceSettings()
        self.web = None  # WebSettings: the page (docs/web.md), or None


class WifiSettings:
    """``board.wifi``: ``ssid`` (None: no Wi-Fi) and ``password``."""

    def __init__(self):
        self.ssid = None
        self.password = None


class DisplaySettings:
    """``board.display``: the SSD1306 panel, and the host's terminal and PNG panels."""

    def __init__(self):
        self.width = 128
        self.height = 64
        self.address = 0x3C  # the SSD1306's usual I2C address (0x3D with SA0 high)
        self.flip = False
        self.terminal = False  # host: draw the panel on stdout
        self.png = None  # host: a PNG snapshot rewritten at every frame


class ButtonSettings:
    """``board.button``: ``hold_ms``, how long a press must last to switch calls."""

    def __init__(self):
        self.hold_ms = 800


class BoardSettings:
    """``board``: ``wifi``, ``display``, ``dim_after_s``, ``button``, ``keypad`` (as the JSON).
    Defaults for every key."""

    def __init__(self):
        self.wifi = WifiSettings()
        self.display = DisplaySettings()
        self.dim_after_s = 60
        self.button = ButtonSettings()
        self.keypad = dict(_keypad.DEFAULT_CODES)

    def host_display(self):
        """True when the host box should keep a display (terminal or PNG)."""
        return self.display.terminal or self.display.png is not None


def _check_keys(key, obj, allowed):
    _want(key or "config", obj, dict, "an object")
    for name in obj:
        if name not in allowed:
            raise ConfigError((key + "." if key else "") + name, "unknown key")


def _side(cfg, name, obj, extra, dhcp=False):
    _check_keys(name, obj, ("sip", "rtp", "address") + extra)
    for k in ("sip", "rtp"):
        if k not in obj:
            raise ConfigError(name + "." + k, "missing")
    sip = parse_hostport(name + ".sip", obj["sip"])
    address = obj.get("address")
    if address is not None:
        _want(name + ".address", address, str, "a string")
        if ip_bytes(address) is None:
            raise ConfigError(name + ".address", "bad IP address %r" % address)
    wildcard = sip[0] in ("0.0.0.0", "::")
    if wildcard and address is None and not dhcp:
        raise ConfigError(name + ".address", "missing: %s.sip binds the wildcard address" % name)
    side = Side(sip, address, _port_range(name + ".rtp", obj["rtp"]))
    if wildcard and address is None:
        side.address = None  # a board fills in the address its network bring-up got
    return side


def _int(key, value, low, high):
    _want(key, value, int, "a number")
    if not low <= value <= high:
        raise ConfigError(key, "must be between %d and %d, not %d" % (low, high, value))
    return value


def _text(key, value, low, high):
    _want(key, value, str, "a string")
    if not low <= len(value) <= high:
        raise ConfigError(key, "must have %d to %d characters" % (low, high))
    return value


def _bool(key, value):
    return _want(key, value, bool, "true or false")


def parse_board(obj, status="-"):
    """Validate the ``board`` object; STATUS is the config's ``status`` (stdout is shared)."""
    b = BoardSettings()
    _check_keys("board", obj, ("wifi", "display", "dim_after_s", "button", "keypad"))
    if "wifi" in obj:
        wifi = obj["wifi"]
        _check_keys("board.wifi", wifi, ("ssid", "password"))
        if "ssid" not in wifi:
            raise ConfigError("board.wifi.ssid", "missing")
        b.wifi.ssid = _text("board.wifi.ssid", wifi["ssid"], 1, 32)  # IEEE 802.11: 32 octets
        b.wifi.password = _text("board.wifi.password", wifi.get("password", ""), 0, 63)
    if "display" in obj:
        d = obj["display"]
        _check_keys("board.display", d, ("width", "height", "address", "flip", "terminal", "png"))
        if "width" in d and _int("board.display.width", d["width"], 0, 4096) != 128:
            raise ConfigError("board.display.width", "must be 128, not %d" % d["width"])
        if "height" in d and _int("board.display.height", d["height"], 0, 4096) not in (32, 64):
            raise ConfigError("board.display.height", "must be 32 or 64, not %d" % d["height"])
        b.display.height = d.get("height", 64)
        if "address" in d:
            b.display.address = _int("board.display.address", d["address"], 0x08, 0x77)
        if "flip" in d:
            b.display.flip = _bool("board.display.flip", d["flip"])
        if "terminal" in d:
            b.display.terminal = _bool("board.display.terminal", d["terminal"])
            if b.display.terminal and status == "-":
                raise ConfigError("board.display.terminal", "the panel and the status lines "
                                  "(status \"-\") would share stdout: give status a file")
        if "png" in d:
            b.display.png = _text("board.display.png", d["png"], 1, 4096)
    if "dim_after_s" in obj:
        b.dim_after_s = _int("board.dim_after_s", obj["dim_after_s"], 5, 86400)
    if "button" in obj:
        _check_keys("board.button", obj["button"], ("hold_ms",))
        if "hold_ms" in obj["button"]:
            b.button.hold_ms = _int("board.button.hold_ms", obj["button"]["hold_ms"], 200, 10000)
    if "keypad" in obj:
        codes = obj["keypad"]
        try:
            _keypad.check_codes(codes, "board.keypad")
        except ValueError as e:
            key, _, message = str(e).partition(": ")
            raise ConfigError(key, message)
        b.keypad = dict(codes)
    return b


def parse(obj, dhcp=False):
    """Validate a decoded CONFIG.json object and return a :class:`Config`. DHCP: see the module
    doc."""
    cfg = Config()
    _check_keys("", obj, ("phone", "network", "zrtp", "media", "status", "control", "board",
                          "ice", "web"))
    for k in ("phone", "network"):
        if k not in obj:
            raise ConfigError(k, "missing")
    phone = obj["phone"]
    _want("phone", phone, dict, "an object")
    cfg.phone = _side(cfg, "phone", phone, ("allow", "contact") + PHONE_TRANSPORT_KEYS, dhcp)
    if "allow" not in phone:
        raise ConfigError("phone.allow", "missing")
    cfg.phone.allow = Network("phone.allow", phone["allow"])
    if "contact" in phone:
        cfg.phone.contact = _sip_uri("phone.contact", phone["contact"])
    network = obj["network"]
    _want("network", network, dict, "an object")
    cfg.network = _side(cfg, "network", network, ("proxy", "allow", "interface") +
                        NETWORK_TRANSPORT_KEYS, dhcp)
    cfg.network.interface = None
    if "interface" in network:
        name = _text("network.interface", network["interface"], 1, 15)  # IFNAMSIZ - 1
        for ch in name:
            if ch in "/ \t\n:" or ord(ch) < 33 or ord(ch) > 126:
                raise ConfigError("network.interface", "bad interface name %r" % name)
        cfg.network.interface = name
    if "proxy" in network:
        cfg.network.proxy = _proxy("network.proxy", network["proxy"])
    if "allow" in network:
        cfg.network.allow = Network("network.allow", network["allow"])
    parse_transports(cfg, network, phone)
    if (cfg.phone.host, cfg.phone.port) == (cfg.network.host, cfg.network.port):
        raise ConfigError("network.sip", "same socket as phone.sip")
    a, b = cfg.phone.rtp, cfg.network.rtp
    if a[0] <= b[1] and b[0] <= a[1] and cfg.phone.host == cfg.network.host:
        raise ConfigError("network.rtp", "overlaps phone.rtp on the same address")

    zrtp = obj.get("zrtp", {})
    _check_keys("zrtp", zrtp, ZRTP_FAMILIES + ("cache",))
    for kind in ZRTP_FAMILIES:
        key = "zrtp." + kind
        names = zrtp.get(kind, list(ZRTP_DEFAULTS[kind]))
        _want(key, names, list, "a list of ZRTP algorithm names")
        if not names:
            raise ConfigError(key, "must not be empty")
        for i in range(len(names)):
            _want("%s[%d]" % (key, i), names[i], str, "a string")
            if names[i] not in ZRTP_ALGORITHMS[kind]:
                raise ConfigError("%s[%d]" % (key, i), "unknown algorithm %r (known: %s)"
                                  % (names[i], ", ".join(ZRTP_ALGORITHMS[kind])))
            if names.index(names[i]) != i:
                raise ConfigError("%s[%d]" % (key, i), "%r listed twice" % names[i])
        setattr(cfg.zrtp, kind, list(names))
    if "cache" in zrtp:
        cfg.zrtp.cache = _want("zrtp.cache", zrtp["cache"], str, "a path string")
        if not cfg.zrtp.cache:
            raise ConfigError("zrtp.cache", "must not be empty")

    media = obj.get("media", {})
    _check_keys("media", media, ("clear", "timeout_s"))
    clear = media.get("clear", "pass")
    _want("media.clear", clear, str, "a string")
    if clear not in MEDIA_CLEAR:
        raise ConfigError("media.clear", "must be one of pass, mute, block, not %r" % clear)
    cfg.media.clear = clear
    if "timeout_s" in media:
        t = _want("media.timeout_s", media["timeout_s"], int, "a number")
        if t != 0 and not MEDIA_TIMEOUT_MIN_S <= t <= MEDIA_TIMEOUT_MAX_S:
            raise ConfigError("media.timeout_s", "must be 0 (never) or between %d and %d, not %d"
                              % (MEDIA_TIMEOUT_MIN_S, MEDIA_TIMEOUT_MAX_S, t))
        cfg.media.timeout_s = t

    cfg.status = _want("status", obj.get("status", "-"), str, "a path string or '-'")
    if not cfg.status:
        raise ConfigError("status", "must not be empty")
    cfg.control = parse_hostport("control", obj.get("control", DEFAULT_CONTROL))
    if cfg.control[0] not in ("127.0.0.1", "::1") and not cfg.control[0].startswith("127."):
        raise ConfigError("control", "must be a loopback address, not %r" % cfg.control[0])
    if "board" in obj:
        cfg.board = parse_board(obj["board"], cfg.status)
    if "ice" in obj:
        cfg.ice = parse_ice(obj["ice"])
    cfg.web = parse_web(obj.get("web"), cfg)
    return cfg


JSON_DEPTH = 16  # the config nests 4 deep, an ICE offer 3


def json_value(text):
    """TEXT (str or bytes) parsed as JSON; ValueError if it is not JSON.

    Nesting deeper than ``JSON_DEPTH`` is refused before parsing: the parsers recurse, and a
    long run of ``[`` raises RecursionError (CPython) or MemoryError (MicroPython, on a board's
    heap), neither a ValueError. The scan runs only when there are enough brackets to nest that
    deep. Used for the config file, the web page's form fields and the ICE helper's answers."""
    raw = text.encode() if isinstance(text, str) else text
    if raw.count(b"[") + raw.count(b"{") > JSON_DEPTH:
        depth = 0
        quoted = False
        escaped = False
        for c in raw:
            if quoted:
                if escaped:
                    escaped = False
                elif c == 0x5C:  # backslash
                    escaped = True
                elif c == 0x22:
                    quoted = False
            elif c == 0x22:  # "
                quoted = True
            elif c == 0x5B or c == 0x7B:  # [ {
                depth += 1
                if depth > JSON_DEPTH:
                    raise ValueError("JSON nested deeper than %d" % JSON_DEPTH)
            elif c == 0x5D or c == 0x7D:
                depth -= 1
    return json.loads(text)


def loads(text, dhcp=False):
    """Parse CONFIG.json text; a JSON syntax error is a ConfigError for the key ``config``."""
    try:
        obj = json_value(text)
    except ValueError as e:
        raise ConfigError("config", "not valid JSON (%s)" % (e,))
    return parse(obj, dhcp)


def load(path):
    """Read and validate the file at PATH."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ConfigError("config", "cannot read %s (%s)" % (path, e))
    except UnicodeError:  # a text file in another encoding
        raise ConfigError("config", "cannot read %s (not UTF-8 text)" % path)
    return loads(text)


# --- the ICE fallback (docs/fallback.md) -------------------------------------------------------
ICE_KEYS = ("helper_url", "helper_ca", "helper_address", "stun", "turn", "after_s", "deadline_s",
            "host_candidates", "dtmf", "tone_ms", "clear", "enabled")
# auto: RFC 4733 events when both SDPs of the call map telephone-event, else in-band tones;
# rfc4733: events always; inband: tones always (in-band tones are received in every mode)
ICE_DTMF = ("auto", "rfc4733", "inband")


class IceSettings:
    """``ice``: the fallback when the provider's path does not carry ZRTP (docs/fallback.md).

    ``helper_url`` (``https://...``; ``http://`` only for ZSipOs's own server), ``helper_ca`` (a
    PEM file: the pinned CA of the helper's certificate; required with https), ``helper_address``
    (optional: the helper's IP; else the box resolves the URL's host in its loop), ``stun``
    (``host:port``, an address or a name) and
    ``turn`` (``{"server": "host:port", "username", "password"}``) when the helper gives none,
    ``after_s`` (4: no peer ZRTP this long after media starts the fallback), ``deadline_s`` (20),
    ``host_candidates`` (true; false keeps the LAN addresses out of the offer), ``dtmf``
    (``auto``: RFC 4733 events when both SDPs of the call carry telephone-event, else in-band
    tones in the phone's G.711 stream; ``rfc4733`` or ``inband`` forces one; tones are received
    in every mode), ``tone_ms`` (50: each key's tone, and the pause after it; a frame of 14
    keys takes 1.4 s), ``clear`` (audio while the fallback runs: ``mute`` by
    default, ``pass`` or ``block``), ``enabled`` (true when a helper is set)."""

    def __init__(self):
        self.helper_url = None
        self.helper_ca = None
        self.helper_address = None
        self.stun = None
        self.turn = None  # ((host, port), username, password)
        self.after_s = 4
        self.deadline_s = 20
        self.host_candidates = True
        self.dtmf = "auto"
        self.tone_ms = 50
        self.clear = "mute"
        self.enabled = False


def parse_ice(obj):
    from zerotap.ice import helper_client as _hc
    ice = IceSettings()
    _check_keys("ice", obj, ICE_KEYS)
    if "helper_url" in obj:
        url = _want("ice.helper_url", obj["helper_url"], str, "a string")
        try:
            parsed = _hc.parse_url(url)
        except ValueError as e:
            raise ConfigError("ice.helper_url", str(e)[len("http: "):])
        ice.helper_url = url
        ice.enabled = True
        if parsed.tls and "helper_ca" not in obj:
            raise ConfigError("ice.helper_ca", "missing: an https helper needs its CA (a PEM "
                                               "file)")
    if "helper_ca" in obj:
        ice.helper_ca = _text("ice.helper_ca", obj["helper_ca"], 1, 255)
    if "helper_address" in obj:
        a = _want("ice.helper_address", obj["helper_address"], str, "a string")
        if ip_bytes(a) is None:
            raise ConfigError("ice.helper_address", "must be an IP address, not %r" % a)
        ice.helper_address = a
    if "stun" in obj:
        ice.stun = parse_hostport("ice.stun", obj["stun"], hostnames=True)
    if "turn" in obj:
        t = obj["turn"]
        _check_keys("ice.turn", t, ("server", "username", "password"))
        for k in ("server", "username", "password"):
            if k not in t:
                raise ConfigError("ice.turn." + k, "missing")
        ice.turn = (parse_hostport("ice.turn.server", t["server"], hostnames=True),
                    _text("ice.turn.username", t["username"], 1, 255),
                    _text("ice.turn.password", t["password"], 1, 255))
    ice.after_s = _int("ice.after_s", obj.get("after_s", 4), 0, 60)
    ice.deadline_s = _int("ice.deadline_s", obj.get("deadline_s", 20), 5, 120)
    ice.host_candidates = _bool("ice.host_candidates", obj.get("host_candidates", True))
    dtmf = _want("ice.dtmf", obj.get("dtmf", "auto"), str, "a string")
    if dtmf not in ICE_DTMF:
        raise ConfigError("ice.dtmf", "must be one of auto, rfc4733, inband, not %r" % dtmf)
    ice.dtmf = dtmf
    ice.tone_ms = _int("ice.tone_ms", obj.get("tone_ms", 50), 40, 200)
    clear = _want("ice.clear", obj.get("clear", "mute"), str, "a string")
    if clear not in MEDIA_CLEAR:
        raise ConfigError("ice.clear", "must be one of pass, mute, block, not %r" % clear)
    ice.clear = clear
    if "enabled" in obj:
        ice.enabled = _bool("ice.enabled", obj["enabled"])
        if ice.enabled and ice.helper_url is None:
            raise ConfigError("ice.helper_url", "missing: the fallback needs a helper")
    return ice


# --- transports (docs/transports.md) -----------------------------------------------------------
TRANSPORTS = ("udp", "tcp", "tls")
NETWORK_TRANSPORT_KEYS = ("transport", "tls", "dns", "stun", "keepalive_s")
PHONE_TRANSPORT_KEYS = ("tcp",)
DEFAULT_KEEPALIVE_S = 25  # below the 30 s UDP timeout of many home routers


class TlsSettings:
    """``network.tls``: ``ca`` (a PEM file: a CA bundle or one pinned CA) and ``name`` (the name
    the provider's certificate must carry; default: network.proxy's host)."""

    def __init__(self):
        self.ca = None
        self.name = None


def _proxy(key, text):
    """``network.proxy``: ``host:port``, or a domain alone (RFC 3263 finds transport and port:
    the port is then None)."""
    if isinstance(text, str) and ":" not in text and _hostname(text) and not _ipv4(text):
        return text, None
    return parse_hostport(key, text, hostnames=True)


def parse_transports(cfg, network, phone):
    """``network.transport``, ``network.tls``, ``network.dns``, ``network.stun``,
    ``network.keepalive_s`` and ``phone.tcp``, set on ``cfg.network`` / ``cfg.phone``."""
    net = cfg.network
    t = network.get("transport", "udp")
    _want("network.transport", t, str, "a string")
    if t.lower() not in TRANSPORTS:
        raise ConfigError("network.transport", "must be one of udp, tcp, tls, not %r" % t)
    net.transport = t.upper()
    net.tls = None
    if "tls" in network:
        tls = network["tls"]
        _check_keys("network.tls", tls, ("ca", "name"))
        net.tls = TlsSettings()
        if "ca" not in tls:
            raise ConfigError("network.tls.ca", "missing: a CA bundle or pinned CA (PEM file)")
        net.tls.ca = _text("network.tls.ca", tls["ca"], 1, 4096)
        if "name" in tls:
            name = _text("network.tls.name", tls["name"], 1, 253)
            if not (_hostname(name) or _ipv4(name)):
                raise ConfigError("network.tls.name", "bad host name %r" % name)
            net.tls.name = name
    if net.transport == "TLS" and net.tls is None:
        raise ConfigError("network.tls", "missing: network.transport tls needs a CA "
                          "(network.tls.ca)")
    if net.transport == "TLS" and net.tls.name is None and \
            (net.proxy is None or _ipv4(net.proxy[0])):
        raise ConfigError("network.tls.name", "missing: the provider's certificate name (no "
                          "domain in network.proxy to check it against)")
    net.dns = None
    if "dns" in network:
        servers = network["dns"]
        _want("network.dns", servers, list, "a list of resolver addresses")
        if not servers:
            raise ConfigError("network.dns", "must not be empty")
        net.dns = []
        for i in range(len(servers)):
            k = "network.dns[%d]" % i
            text = _want(k, servers[i], str, "a string")
            if ip_bytes(text) is not None:
                net.dns.append((text, 53))
            else:
                net.dns.append(parse_hostport(k, text))
    net.stun = None
    if "stun" in network:
        net.stun = parse_hostport("network.stun", network["stun"])
    net.keepalive_s = DEFAULT_KEEPALIVE_S
    if "keepalive_s" in network:
        net.keepalive_s = _int("network.keepalive_s", network["keepalive_s"], 0, 3600)
    cfg.phone.tcp = True
    if "tcp" in phone:
        cfg.phone.tcp = _bool("phone.tcp", phone["tcp"])


# --- the web page (docs/web.md) -----------------------------------------------------------------
class WebSettings:
    """``web``: ``listen`` (host, port): where the box serves its page, on the phone side."""

    def __init__(self, listen):
        self.listen = listen


def parse_web(obj, cfg):
    """``web`` -> WebSettings, or None (no ``web`` key: no page). ``web.listen`` must be on the
    phone side (phone.sip's address) and take no port of the box's SIP sockets."""
    if obj is None:
        return None
    _check_keys("web", obj, ("listen",))
    if "listen" not in obj:
        raise ConfigError("web.listen", "missing")
    host, port = parse_hostport("web.listen", obj["listen"])
    if host != cfg.phone.host:
        raise ConfigError("web.listen", "must be on the phone side (%s, phone.sip's address), "
                          "not %s" % (cfg.phone.host, host))
    if port == cfg.phone.port or (port == cfg.network.port and host == cfg.network.host):
        raise ConfigError("web.listen", "port %d is a SIP socket's" % port)
    return WebSettings((host, port))
