"""STUN messages (RFC 8489) and client transactions, sans-IO.

    m = Message(BINDING, REQUEST, tid)          # tid: 12 random bytes from the caller
    m.add(USERNAME, "bob:alice")
    data = m.encode(key=b"pwd", fingerprint=True)  # MESSAGE-INTEGRITY (HMAC-SHA1), FINGERPRINT
    m2 = parse(data)                             # ValueError with a precise text on bad input
    m2.verify(b"pwd")                            # ValueError unless the integrity matches

Attributes are described by one table (``ATTRIBUTES``: type -> (name, kind)); the kind says how a
value is packed and checked. Values: addresses are ``(ip, port)`` tuples (ip as text, IPv4 or
IPv6), strings are ``str``, opaque values ``bytes``, numbers ``int``, ERROR-CODE is
``(code, reason)``, flags (USE-CANDIDATE) ``None``. A message keeps its attributes in wire order
as ``[type, value]`` lists; padding that is not zero (RFC 5769's vectors pad with spaces) is kept
as a third element, and a value whose reserved bits are set as a fourth (its raw bytes), so that
``parse(data).encode() == data`` for every message parse accepts without MESSAGE-INTEGRITY.

After MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count (RFC 8489 section
14.5); later attributes are dropped. FINGERPRINT is checked by :func:`parse` whenever present.
"""
import binascii
import hashlib
from struct import unpack_from

from micropython import const

from zerotap import crypto
from zerotap.crypto.mac import pads

MAGIC_COOKIE = const(0x2112A442)  # RFC 8489 section 5
HEADER_LENGTH = const(20)
RC = const(7)  # RFC 8489 section 6.2.1: Rc, the sends of a client transaction over UDP
RM = const(16)  # and Rm: it fails Rm x RTO after the last one
FINGERPRINT_XOR = const(0x5354554E)  # RFC 8489 section 14.7

# Classes (RFC 8489 section 5: bits C1 C0 at 0x0100 and 0x0010)
REQUEST = const(0x0000)
INDICATION = const(0x0010)
SUCCESS = const(0x0100)
ERROR = const(0x0110)

# Methods (RFC 8489 section 18.2, RFC 8656 section 17)
BINDING = const(0x001)
ALLOCATE = const(0x003)
REFRESH = const(0x004)
SEND = const(0x006)
DATA = const(0x007)
CREATE_PERMISSION = const(0x008)
CHANNEL_BIND = const(0x009)

# Attribute types (RFC 8489 section 18.3, RFC 8656 section 18, RFC 8445 section 16.1)
MAPPED_ADDRESS = const(0x0001)
CHANGE_REQUEST = const(0x0003)
USERNAME = const(0x0006)
MESSAGE_INTEGRITY = const(0x0008)
ERROR_CODE = const(0x0009)
UNKNOWN_ATTRIBUTES = const(0x000A)
CHANNEL_NUMBER = const(0x000C)
LIFETIME = const(0x000D)
XOR_PEER_ADDRESS = const(0x0012)
DATA_ATTR = const(0x0013)
REALM = const(0x0014)
NONCE = const(0x0015)
XOR_RELAYED_ADDRESS = const(0x0016)
REQUESTED_ADDRESS_FAMILY = const(0x0017)
EVEN_PORT = const(0x0018)
REQUESTED_TRANSPORT = const(0x0019)
DONT_FRAGMENT = const(0x001A)
MESSAGE_INTEGRITY_SHA256 = const(0x001C)
PASSWORD_ALGORITHM = const(0x001D)
USERHASH = const(0x001E)
XOR_MAPPED_ADDRESS = const(0x0020)
RESERVATION_TOKEN = const(0x0022)
PRIORITY = const(0x0024)
USE_CANDIDATE = const(0x0025)
PASSWORD_ALGORITHMS = const(0x8002)
ALTERNATE_DOMAIN = const(0x8003)
SOFTWARE = const(0x8022)
ALTERNATE_SERVER = const(0x8023)
FINGERPRINT = const(0x8028)
ICE_CONTROLLED = const(0x8029)
ICE_CONTROLLING = const(0x802A)
RESPONSE_ORIGIN = const(0x802B)
OTHER_ADDRESS = const(0x802C)

# How a value is packed
K_ADDRESS = const(0)
K_XOR_ADDRESS = const(1)
K_STRING = const(2)
K_BYTES = const(3)
K_U32 = const(4)
K_U64 = const(5)
K_FLAG = const(6)
K_ERROR = const(7)
K_CHANNEL = const(8)  # 16-bit number + 2 reserved bytes (RFC 8656 section 18.1)
K_PROTOCOL = const(9)  # 8-bit protocol + 3 reserved bytes (RFC 8656 section 18.7)
K_INTEGRITY = const(10)
K_INTEGRITY_SHA256 = const(11)
K_UNKNOWN_LIST = const(12)

ATTRIBUTES = {
    MAPPED_ADDRESS: ("MAPPED-ADDRESS", K_ADDRESS),
    CHANGE_REQUEST: ("CHANGE-REQUEST", K_U32),
    USERNAME: ("USERNAME", K_STRING),
    MESSAGE_INTEGRITY: ("MESSAGE-INTEGRITY", K_INTEGRITY),
    ERROR_CODE: ("ERROR-CODE", K_ERROR),
    UNKNOWN_ATTRIBUTES: ("UNKNOWN-ATTRIBUTES", K_UNKNOWN_LIST),
    CHANNEL_NUMBER: ("CHANNEL-NUMBER", K_CHANNEL),
    LIFETIME: ("LIFETIME", K_U32),
    XOR_PEER_ADDRESS: ("XOR-PEER-ADDRESS", K_XOR_ADDRESS),
    DATA_ATTR: ("DATA", K_BYTES),
    REALM: ("REALM", K_STRING),
    NONCE: ("NONCE", K_BYTES),
    XOR_RELAYED_ADDRESS: ("XOR-RELAYED-ADDRESS", K_XOR_ADDRESS),
    REQUESTED_ADDRESS_FAMILY: ("REQUESTED-ADDRESS-FAMILY", K_PROTOCOL),
    EVEN_PORT: ("EVEN-PORT", K_BYTES),
    REQUESTED_TRANSPORT: ("REQUESTED-TRANSPORT", K_PROTOCOL),
    DONT_FRAGMENT: ("DONT-FRAGMENT", K_FLAG),
    MESSAGE_INTEGRITY_SHA256: ("MESSAGE-INTEGRITY-SHA256", K_INTEGRITY_SHA256),
    PASSWORD_ALGORITHM: ("PASSWORD-ALGORITHM", K_BYTES),
    USERHASH: ("USERHASH", K_BYTES),
    XOR_MAPPED_ADDRESS: ("XOR-MAPPED-ADDRESS", K_XOR_ADDRESS),
    RESERVATION_TOKEN: ("RESERVATION-TOKEN", K_BYTES),
    PRIORITY: ("PRIORITY", K_U32),
    USE_CANDIDATE: ("USE-CANDIDATE", K_FLAG),
    PASSWORD_ALGORITHMS: ("PASSWORD-ALGORITHMS", K_BYTES),
    ALTERNATE_DOMAIN: ("ALTERNATE-DOMAIN", K_STRING),
    SOFTWARE: ("SOFTWARE", K_STRING),
    ALTERNATE_SERVER: ("ALTERNATE-SERVER", K_ADDRESS),
    FINGERPRINT: ("FINGERPRINT", K_U32),
    ICE_CONTROLLED: ("ICE-CONTROLLED", K_U64),
    ICE_CONTROLLING: ("ICE-CONTROLLING", K_U64),
    RESPONSE_ORIGIN: ("RESPONSE-ORIGIN", K_ADDRESS),
    OTHER_ADDRESS: ("OTHER-ADDRESS", K_ADDRESS),
}

_KINDS = {t: v[1] for t, v in ATTRIBUTES.items()}  # type -> kind, for the parser

_FIXED = {K_U32: 4, K_U64: 8, K_FLAG: 0, K_CHANNEL: 4, K_PROTOCOL: 4, K_INTEGRITY: 20}

# Reason phrases of the error codes this package sends (RFC 8489 section 14.8, RFC 8445 7.3.1.1)
REASONS = {
    300: "Try Alternate", 400: "Bad Request", 401: "Unauthenticated", 403: "Forbidden",
    420: "Unknown Attribute", 437: "Allocation Mismatch", 438: "Stale Nonce",
    440: "Address Family not Supported", 441: "Wrong Credentials",
    442: "Unsupported Transport Protocol", 486: "Allocation Quota Reached",
    487: "Role Conflict", 500: "Server Error", 508: "Insufficient Capacity",
}

CLASS_NAMES = {REQUEST: "request", INDICATION: "indication", SUCCESS: "success", ERROR: "error"}


def attribute_name(t):
    entry = ATTRIBUTES.get(t)
    return entry[0] if entry else "attribute 0x%04x" % t


# --- IP addresses as text (no ipaddress module on MicroPython) --------------------------------

_IP_CACHE = {}  # the few addresses an agent talks to, text -> bytes


def ip_to_bytes(ip):
    """The 4 or 16 bytes of IP (text); ValueError names the text when it is not an address."""
    raw = _IP_CACHE.get(ip)
    if raw is not None:
        return raw
    raw = _ip_to_bytes(ip)
    if len(_IP_CACHE) >= 16:
        _IP_CACHE.clear()
    _IP_CACHE[ip] = raw
    return raw


def _ip_to_bytes(ip):
    if ":" not in ip:
        parts = ip.split(".")
        if len(parts) != 4:
            raise ValueError("not an IP address: %r" % ip)
        out = bytearray(4)
        for i in range(4):
            p = parts[i]
            # ASCII digits: CPython's isdigit() takes other scripts' too
            if not p or len(p) > 3 or p.strip("0123456789") or int(p) > 255:
                raise ValueError("not an IP address: %r" % ip)
            out[i] = int(p)
        return bytes(out)
    head, sep, tail = ip.partition("::")
    if "::" in tail:
        raise ValueError("not an IP address: %r" % ip)

    def groups(text):
        if not text:
            return []
        out = []
        for g in text.split(":"):
            # hex digits only: int(g, 16) also takes a sign, blanks, "0x" and "_"
            if not g or len(g) > 4 or g.strip("0123456789abcdefABCDEF"):
                raise ValueError("not an IP address: %r" % ip)
            try:
                out.append(int(g, 16))
            except ValueError:
                raise ValueError("not an IP address: %r" % ip)
        return out

    h = groups(head)
    t = groups(tail)
    if sep:
        if len(h) + len(t) > 7:
            raise ValueError("not an IP address: %r" % ip)
        g = h + [0] * (8 - len(h) - len(t)) + t
    else:
        g = h
    if len(g) != 8:
        raise ValueError("not an IP address: %r" % ip)
    out = bytearray(16)
    for i in range(8):
        out[2 * i] = g[i] >> 8
        out[2 * i + 1] = g[i] & 0xFF
    return bytes(out)


def ip_from_bytes(b):
    """IP text of 4 or 16 bytes (IPv6 in the RFC 5952 form: lowercase, longest zero run as ::)."""
    if len(b) == 4:
        return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])
    from zerotap.dns import format_ipv6  # the one RFC 5952 formatter (as sip/nat.py uses it)
    return format_ipv6(b)


def _u16(b, i):
    return (b[i] << 8) | b[i + 1]


def _u32(b, i):
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


def _pack_address(value, xor_pad):
    ip, port = value
    raw = ip_to_bytes(ip)
    if xor_pad is not None:
        port ^= MAGIC_COOKIE >> 16
        if len(raw) == 4:  # the common case, without a loop
            return bytes((0, 1, port >> 8, port & 0xFF, raw[0] ^ 0x21, raw[1] ^ 0x12,
                          raw[2] ^ 0xA4, raw[3] ^ 0x42))
        raw = bytes(raw[i] ^ xor_pad[i] for i in range(16))
    return bytes((0, 1 if len(raw) == 4 else 2, port >> 8, port & 0xFF)) + raw


def pack_xor_address(addr, tid):
    """The value of an XOR-...-ADDRESS attribute carrying ADDR ``(ip, port)`` in a message with
    transaction id TID."""
    return _pack_address(addr, _xor_pad(tid))


def xor_mapped_attr(addr, tid):
    """The whole XOR-MAPPED-ADDRESS attribute (header and value) for ADDR in a message with
    transaction id TID: what a Binding success response carries."""
    ip, port = addr
    raw = ip_to_bytes(ip)
    port ^= 0x2112
    if len(raw) == 4:
        return bytes((0, 0x20, 0, 8, 0, 1, port >> 8, port & 0xFF, raw[0] ^ 0x21, raw[1] ^ 0x12,
                      raw[2] ^ 0xA4, raw[3] ^ 0x42))
    pad = _xor_pad(tid)
    return bytes((0, 0x20, 0, 20, 0, 2, port >> 8, port & 0xFF)) + \
        bytes(raw[i] ^ pad[i] for i in range(16))


def _unpack_address(name, v, xor_pad):
    n = len(v)
    if n < 4:
        raise ValueError("STUN %s: length %d is shorter than 4" % (name, n))
    family = v[1]
    if family == 1:
        if n != 8:
            raise ValueError("STUN %s: length %d is wrong for IPv4" % (name, n))
    elif family == 2:
        if n != 20:
            raise ValueError("STUN %s: length %d is wrong for IPv6" % (name, n))
    else:
        raise ValueError("STUN %s: address family %d is unknown" % (name, family))
    port = _u16(v, 2)
    if xor_pad is not None:
        port ^= MAGIC_COOKIE >> 16
        if family == 1:
            return "%d.%d.%d.%d" % (v[4] ^ 0x21, v[5] ^ 0x12, v[6] ^ 0xA4, v[7] ^ 0x42), port
        return ip_from_bytes(bytes(v[4 + i] ^ xor_pad[i] for i in range(16))), port
    return ip_from_bytes(v[4:]), port


def _pack(t, kind, value, tid):
    if kind == K_ADDRESS:
        return _pack_address(value, None)
    if kind == K_XOR_ADDRESS:
        return _pack_address(value, _xor_pad(tid))
    if kind == K_STRING:
        return value.encode()
    if kind == K_U32:
        return value.to_bytes(4, "big")
    if kind == K_U64:
        return value.to_bytes(8, "big")
    if kind == K_FLAG:
        return b""
    if kind == K_ERROR:
        code, reason = value
        return bytes((0, 0, code // 100, code % 100)) + reason.encode()
    if kind == K_CHANNEL:
        return bytes((value >> 8, value & 0xFF, 0, 0))
    if kind == K_PROTOCOL:
        return bytes((value, 0, 0, 0))
    if kind == K_UNKNOWN_LIST:
        return b"".join(x.to_bytes(2, "big") for x in value)
    return bytes(value)  # K_BYTES, K_INTEGRITY*


def _unpack(t, name, kind, v, tid):
    n = len(v)
    want = _FIXED.get(kind)
    if want is not None and n != want:
        raise ValueError("STUN %s: length %d, want %d" % (name, n, want))
    if kind == K_ADDRESS:
        return _unpack_address(name, v, None)
    if kind == K_XOR_ADDRESS:
        return _unpack_address(name, v, _xor_pad(tid))
    if kind == K_STRING:
        try:
            return str(v, "utf-8")
        except UnicodeError:
            raise ValueError("STUN %s is not UTF-8" % name)
    if kind == K_U32:
        return _u32(v, 0)
    if kind == K_U64:
        return (_u32(v, 0) << 32) | _u32(v, 4)
    if kind == K_FLAG:
        return None
    if kind == K_ERROR:
        if n < 4:
            raise ValueError("STUN ERROR-CODE: length %d is shorter than 4" % n)
        if v[3] > 99:
            raise ValueError("STUN ERROR-CODE: number %d is over 99" % v[3])
        try:
            reason = str(v[4:], "utf-8")
        except UnicodeError:
            raise ValueError("STUN ERROR-CODE reason is not UTF-8")
        return (v[2] & 7) * 100 + v[3], reason
    if kind == K_CHANNEL:
        return _u16(v, 0)
    if kind == K_PROTOCOL:
        return v[0]
    if kind == K_INTEGRITY_SHA256:
        if n < 16 or n > 32 or n % 4:
            raise ValueError("STUN MESSAGE-INTEGRITY-SHA256: length %d is not 16..32 in steps of 4"
                             % n)
        return bytes(v)
    if kind == K_UNKNOWN_LIST:
        if n % 2:
            raise ValueError("STUN UNKNOWN-ATTRIBUTES: length %d is odd" % n)
        return [_u16(v, i) for i in range(0, n, 2)]
    return bytes(v)


def _reserved_clear(kind, v):
    """False when bits the RFCs reserve (RFFU: zero when sent, ignored when received) are set;
    the parser then keeps the raw value, so that the message still encodes to its own bytes."""
    if kind == K_ADDRESS or kind == K_XOR_ADDRESS:
        return v[0] == 0
    if kind == K_CHANNEL:
        return v[2] == 0 and v[3] == 0
    if kind == K_PROTOCOL:
        return v[1] == 0 and v[2] == 0 and v[3] == 0
    if kind == K_ERROR:
        return v[0] == 0 and v[1] == 0 and v[2] < 8
    return True


_COOKIE = b"\x21\x12\xa4\x42"  # MAGIC_COOKIE's bytes


def _xor_pad(tid):
    return _COOKIE + tid


def message_type(method, cls):
    """The 14-bit type of METHOD and CLASS (RFC 8489 section 5: class bits at 0x0110)."""
    return (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | cls


def crc_fingerprint(data):
    """FINGERPRINT of DATA (the message up to the attribute, with its length already counting
    it): CRC-32 xor 0x5354554E (RFC 8489 section 14.7)."""
    return (binascii.crc32(data) & 0xFFFFFFFF) ^ FINGERPRINT_XOR


def _with_length(data, end, length):
    """DATA up to END with LENGTH in the header's length field (what an integrity covers)."""
    b = bytearray(data[:end])
    b[2] = length >> 8
    b[3] = length & 0xFF
    return b


class IntegrityKey:
    """A MESSAGE-INTEGRITY key (bytes) whose HMAC-SHA1 pads (RFC 2104) are hashed once: each
    MAC then costs two copies of those hash states, not two fresh hashes of the pads. Where the
    hash objects cannot be copied (MicroPython) it is ``zerotap.crypto.hmac_sha1`` of the key.
    ``encode``/``encode_raw``/``verify``/``check`` take it wherever they take a key; an ICE
    agent keeps one for each password (short-term credentials, RFC 8489 section 9.1)."""

    def __init__(self, key):
        self.key = bytes(key)
        self._inner = self._outer = None
        if _sha1_copies:
            ipad, opad = pads(hashlib.sha1, 64, self.key)
            self._inner = hashlib.sha1(ipad)
            self._outer = hashlib.sha1(opad)

    def sha1(self, data, rest=None):
        """The HMAC-SHA1 of DATA, followed by REST when given (one input in two pieces)."""
        if self._inner is None:
            return crypto.hmac_sha1(self.key, data if rest is None else bytes(data) + bytes(rest))
        h = self._inner.copy()
        h.update(data)
        if rest is not None:
            h.update(rest)
        o = self._outer.copy()
        o.update(h.digest())
        return o.digest()


_sha1_copies = hasattr(hashlib.sha1(), "copy")


def _key_bytes(key):
    return key.key if isinstance(key, IntegrityKey) else key


_ZEROS = (b"", b"\x00", b"\x00\x00", b"\x00\x00\x00")


def pack_attr(t, v):
    """One attribute of type T with the packed value V (bytes), zero-padded to 4 bytes."""
    n = len(v)
    return bytes((t >> 8, t & 0xFF, n >> 8, n & 0xFF)) + v + _ZEROS[-n & 3]


def encode_raw(mtype, tid, body, key=None, sha256=False, fingerprint=False):
    """The bytes of a message of type MTYPE (:func:`message_type`) and transaction id TID whose
    attributes are already packed (BODY, e.g. of :func:`pack_attr`), then MESSAGE-INTEGRITY
    (HMAC-SHA1, or with SHA256 MESSAGE-INTEGRITY-SHA256) with KEY and FINGERPRINT. One buffer,
    the header's length field set for each in turn (RFC 8489 sections 14.5 to 14.7): the fast
    path of the agent's checks and answers; :meth:`Message.encode` ends here too."""
    length = len(body)
    if key is not None:
        length += 36 if sha256 else 24
    buf = bytearray(bytes((mtype >> 8, mtype & 0xFF, length >> 8, length & 0xFF)) + _COOKIE +
                    tid + body)
    if key is not None:
        if sha256:
            buf += b"\x00\x1c\x00\x20" + crypto.hmac_sha256(_key_bytes(key), buf)
        else:
            buf += b"\x00\x08\x00\x14" + (key.sha1(buf) if type(key) is IntegrityKey else
                                           crypto.hmac_sha1(key, buf))
    if fingerprint:
        length += 8
        buf[2] = length >> 8
        buf[3] = length & 0xFF
        crc = (binascii.crc32(buf) & 0xFFFFFFFF) ^ FINGERPRINT_XOR
        buf += b"\x80\x28\x00\x04" + crc.to_bytes(4, "big")
    return bytes(buf)


def long_term_key(username, realm, password):
    """The long-term credential key MD5(username ":" realm ":" password) (RFC 8489 9.2.2)."""
    return hashlib.md5(("%s:%s:%s" % (username, realm, password)).encode()).digest()


def _equal(a, b):
    """Compare two MACs without stopping at the first difference."""
    if len(a) != len(b):
        return False
    return int.from_bytes(a, "big") ^ int.from_bytes(b, "big") == 0


def _sha1_matches(key, raw, at):
    """Whether the MESSAGE-INTEGRITY at offset AT of the parsed message RAW is the HMAC-SHA1
    with KEY (bytes or an :class:`IntegrityKey`) of RAW[:AT] with the header's length field
    counting up to that attribute's end (RFC 8489 section 14.5). Where the hash states can be
    copied, the header and the rest go into the hash in two pieces, without a copy of the
    message. :meth:`Message.verify` and :meth:`Message.check` both end here."""
    length = at - HEADER_LENGTH + 24
    if type(key) is IntegrityKey:
        if key._inner is None:
            got = crypto.hmac_sha1(key.key, _with_length(raw, at, length))
        else:
            got = key.sha1(bytes((raw[0], raw[1], length >> 8, length & 0xFF)),
                           memoryview(raw)[4:at])
    else:
        got = crypto.hmac_sha1(key, _with_length(raw, at, length))
    return _equal(got, raw[at + 4:at + 24])


class Message:
    """One STUN message: ``method``, ``cls``, ``tid`` (12 bytes) and ``attrs``; parsed ones also
    ``raw``, ``integrity_at``, ``integrity256_at`` and ``unknown``."""

    raw = None  # the parsed bytes (for integrity checks)
    integrity_at = -1  # offset of MESSAGE-INTEGRITY in raw
    integrity256_at = -1
    unknown = ()  # comprehension-required types this table does not know (parse makes a list)

    def __init__(self, method, cls, tid, attrs=None):
        if len(tid) != 12:
            raise ValueError("STUN transaction id must be 12 bytes")
        self.method = method
        self.cls = cls
        self.tid = bytes(tid)
        self.attrs = attrs if attrs is not None else []

    def add(self, t, value=None):
        self.attrs.append([t, value])
        return self

    def get(self, t, default=None):
        for a in self.attrs:
            if a[0] == t:
                return a[1]
        return default

    def has(self, t):
        for a in self.attrs:
            if a[0] == t:
                return True
        return False

    def get_all(self, t):
        return [a[1] for a in self.attrs if a[0] == t]

    def error_code(self):
        e = self.get(ERROR_CODE)
        return e[0] if e else None

    def encode(self, key=None, sha256=False, fingerprint=False):
        """The message's bytes. With KEY: MESSAGE-INTEGRITY (or with SHA256 the -SHA256 variant)
        replaces any present; with FINGERPRINT a new FINGERPRINT replaces any present."""
        body = []
        tid = self.tid
        has_fingerprint = False
        for a in self.attrs:
            t = a[0]
            if t == FINGERPRINT:
                has_fingerprint = True
                if fingerprint or key is not None:
                    continue
            elif key is not None and (t == MESSAGE_INTEGRITY or t == MESSAGE_INTEGRITY_SHA256):
                continue
            entry = ATTRIBUTES.get(t)
            if entry is None:
                v = bytes(a[1])
            else:
                v = a[3] if len(a) > 3 else _pack(t, entry[1], a[1], tid)
            n = len(v)
            body.append(bytes((t >> 8, t & 0xFF, n >> 8, n & 0xFF)))
            body.append(v)
            if len(a) > 2 and a[2] is not None:
                body.append(a[2])
            elif n & 3:
                body.append(_ZEROS[4 - (n & 3)])
        return encode_raw(message_type(self.method, self.cls), tid, b"".join(body), key, sha256,
                          fingerprint or (key is not None and has_fingerprint))

    def verify(self, key):
        """Check the parsed message's MESSAGE-INTEGRITY-SHA256 (when present, RFC 8489 section
        14.6) or MESSAGE-INTEGRITY against KEY; ValueError names what is wrong."""
        raw = self.raw
        if raw is None:
            raise ValueError("STUN message was not parsed")
        if self.integrity256_at >= 0:
            at = self.integrity256_at
            mac = self.get(MESSAGE_INTEGRITY_SHA256)
            got = crypto.hmac_sha256(_key_bytes(key), _with_length(raw, at, at - HEADER_LENGTH + 4 +
                                                       len(mac)))[:len(mac)]
            if not _equal(got, mac):
                raise ValueError("STUN MESSAGE-INTEGRITY-SHA256 does not match")
            return
        at = self.integrity_at
        if at < 0:
            raise ValueError("STUN message has no MESSAGE-INTEGRITY")
        if not _sha1_matches(key, raw, at):
            raise ValueError("STUN MESSAGE-INTEGRITY does not match")

    def check(self, key):
        """True when :meth:`verify` passes."""
        at = self.integrity_at
        if at >= 0 and self.integrity256_at < 0:
            # verify's common case (an ICE check or its answer), without a raise
            return _sha1_matches(key, self.raw, at)
        try:
            self.verify(key)
            return True
        except ValueError:
            return False

    def __repr__(self):
        return "<STUN %s %s %s %r>" % (
            "method 0x%03x" % self.method, CLASS_NAMES[self.cls],
            binascii.hexlify(self.tid).decode(),
            [(attribute_name(a[0]), a[1]) for a in self.attrs])


def is_stun(data):
    """True when DATA looks like STUN: first two bits 0, the magic cookie, a length that fits."""
    n = len(data)
    # the cookie byte by byte: a slice of it would allocate per datagram on MicroPython
    return n >= HEADER_LENGTH and data[0] < 0x40 and data[4] == 0x21 and data[5] == 0x12 and \
        data[6] == 0xA4 and data[7] == 0x42 and (data[2] << 8) | data[3] == n - HEADER_LENGTH


def parse(data):
    """Parse one STUN message (all of DATA). ValueError with a precise text on bad input."""
    n = len(data)
    if n < HEADER_LENGTH:
        raise ValueError("STUN message shorter than the 20-byte header")
    if not isinstance(data, bytes):
        data = bytes(data)
    mtype, length = unpack_from(">HH", data, 0)
    if mtype & 0xC000:
        raise ValueError("STUN message type 0x%04x: the first two bits are not zero" % mtype)
    if data[4:8] != _COOKIE:
        raise ValueError("STUN magic cookie 0x%08x is wrong" % _u32(data, 4))
    if length & 3:
        raise ValueError("STUN message length %d is not a multiple of 4" % length)
    if length != n - HEADER_LENGTH:
        raise ValueError("STUN message length %d does not match the %d bytes after the header"
                         % (length, n - HEADER_LENGTH))
    tid = data[8:20]
    m = mtype & 0x3EEF  # the method's bits (RFC 8489 section 5), the class's are 0x0110
    attrs = []
    msg = Message((m & 0x000F) | ((m & 0x00E0) >> 1) | ((m & 0x3E00) >> 2), mtype & 0x0110, tid,
                  attrs)
    msg.raw = data
    kinds = _KINDS
    pos = HEADER_LENGTH
    ignore = False
    # the length is a multiple of 4 and so is every step: an attribute header always fits
    while pos < n:
        t, alen = unpack_from(">HH", data, pos)
        end = pos + 4 + alen
        padded = (end + 3) & ~3  # attributes start on 4-byte boundaries
        if padded > n:
            raise ValueError("STUN attribute 0x%04x at offset %d: length %d runs past the end"
                             " of the message" % (t, pos, alen))
        if ignore and t != FINGERPRINT and t != MESSAGE_INTEGRITY_SHA256:
            pos = padded  # RFC 8489 section 14.5: ignored after MESSAGE-INTEGRITY
            continue
        v = data[pos + 4:end]
        kind = kinds.get(t)
        # the kinds of an ICE check and its answer first, the rest through _unpack
        if kind == K_STRING:
            try:
                item = [t, str(v, "utf-8")]
            except UnicodeError:
                raise ValueError("STUN %s is not UTF-8" % ATTRIBUTES[t][0])
        elif kind == K_U32 and alen == 4 or kind == K_U64 and alen == 8:
            if t == FINGERPRINT:
                _check_fingerprint(data, pos, padded, alen)
            item = [t, int.from_bytes(v, "big")]
        elif kind == K_INTEGRITY and alen == 20:
            msg.integrity_at = pos
            ignore = True
            item = [t, v]
        elif kind == K_FLAG and alen == 0:
            item = [t, None]
        elif kind == K_XOR_ADDRESS and alen == 8 and v[0] == 0 and v[1] == 1:
            item = [t, ("%d.%d.%d.%d" % (v[4] ^ 0x21, v[5] ^ 0x12, v[6] ^ 0xA4, v[7] ^ 0x42),
                        ((v[2] << 8) | v[3]) ^ 0x2112)]
        elif kind is None:
            item = [t, v]
            if t < 0x8000:
                if not msg.unknown:
                    msg.unknown = []
                msg.unknown.append(t)
        else:
            if t == FINGERPRINT:
                _check_fingerprint(data, pos, padded, alen)
            item = [t, _unpack(t, ATTRIBUTES[t][0], kind, v, tid)]
            # reserved bits (RFFU) set: keep the raw value, so that it encodes to itself
            if (kind <= K_XOR_ADDRESS or K_ERROR <= kind <= K_PROTOCOL) and \
                    not _reserved_clear(kind, v):
                item.append(_pad_of(data, end, padded))
                item.append(v)
            if t == MESSAGE_INTEGRITY_SHA256:
                msg.integrity256_at = pos
                ignore = True
        if padded != end and len(item) == 2:
            pad = data[end:padded]
            if pad != _ZEROS[padded - end]:
                item.append(pad)
        attrs.append(item)
        pos = padded
    return msg


def _check_fingerprint(data, pos, padded, alen):
    if padded != len(data):
        raise ValueError("STUN FINGERPRINT is not the last attribute")
    if alen != 4:
        raise ValueError("STUN FINGERPRINT: length %d, want 4" % alen)
    if int.from_bytes(data[pos + 4:pos + 8], "big") != crc_fingerprint(memoryview(data)[:pos]):
        raise ValueError("STUN FINGERPRINT does not match")


def _pad_of(data, end, padded):
    """The padding to keep beside a raw value: None when it is zeros."""
    pad = data[end:padded]
    return pad if pad != _ZEROS[padded - end] else None


class Transaction:
    """A client transaction over UDP (RFC 8489 section 6.2.1): sends at 0, RTO, 3 RTO, 7 RTO ...
    (RC sends in all), then fails RM x RTO after the last one.

    ``due(now)`` is called at ``deadline``: it returns the bytes to send again, or None when the
    transaction has just timed out (then ``timed_out`` is True)."""

    def __init__(self, request, data, addr, now, rto=500, rc=RC, rm=RM, via=None):
        self.request = request  # the Message, when the caller wants to keep it
        self.data = data
        self.addr = addr
        self.via = via  # who sends it (the agent's local base, or a relay)
        self.rto = rto
        self.interval = rto
        self.sent = 1
        self.rc = rc
        self.rm = rm
        self.deadline = now + rto if rc > 1 else now + rm * rto
        self.timed_out = False
        self.done = False

    def due(self, now):
        if self.sent >= self.rc:
            self.timed_out = True
            self.done = True
            return None
        self.sent += 1
        self.interval *= 2
        if self.sent >= self.rc:
            self.deadline = now + self.rm * self.rto
        else:
            self.deadline = now + self.interval
        return self.data


def error_response(request, code, key=None, reason=None, extra=None):
    """The bytes of an error response to REQUEST (a Message)."""
    m = Message(request.method, ERROR, request.tid)
    m.add(ERROR_CODE, (code, reason or REASONS.get(code, "Error")))
    if extra:
        m.attrs.extend(extra)
    return m.encode(key=key, fingerprint=True)
