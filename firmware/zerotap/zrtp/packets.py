"""ZRTP packets and messages (RFC 6189 section 5): parse and build, byte for byte.

A ZRTP packet is a 12-byte header (``0x10 0x00``, sequence number, the magic cookie ``ZRTP``, the
SSRC), one ZRTP message, and a CRC-32C over everything before it, written little-endian (as
bzrtp and GNU ZRTP do; RFC 6189 section 5 and its errata).

    sequence, ssrc, message = unframe(packet)       # checks header, length and CRC
    msg = parse(message)                           # a Hello, Commit, DHPart, Confirm, ...
    packet = frame(sequence, ssrc, msg.encode())

Every parser checks lengths before it slices and raises ``ValueError`` with a precise message.
A parsed message keeps the bytes it came from in ``raw``; ``encode()`` of a parsed message gives
those bytes back. MAC fields are plain fields here: :func:`seal` writes the implicit
HMAC-SHA-256 MAC of Hello, Commit and DHPart messages (RFC 6189 section 9), :func:`mac_ok` checks
it. Confirm and SASrelay carry an encrypted part: :meth:`Confirm.seal`/:meth:`Confirm.open` do the
AES-CFB encryption and the negotiated MAC (RFC 6189 section 5.7).
"""
from micropython import const

from zerotap import crypto

# CRC-32C from the selected backend's module (the pure one is zerotap/crypto/crc.py).
crc32c = crypto.backend(crypto.BACKEND).crc32c

PACKET_HEADER_LENGTH = const(12)
MESSAGE_HEADER_LENGTH = const(12)
CRC_LENGTH = const(4)
PACKET_OVERHEAD = const(16)
MIN_PACKET_LENGTH = const(28)  # header, the shortest message (an ACK), CRC
MAX_PACKET_LENGTH = const(3072)  # as bzrtp and GNU ZRTP
MAGIC_COOKIE = b"ZRTP"  # 0x5a525450 (RFC 6189 section 5)
MESSAGE_PREAMBLE = b"PZ"  # 0x505a (RFC 6189 section 5)
MAC_LENGTH = const(8)
HASH_IMAGE_LENGTH = const(32)
ZID_LENGTH = const(12)
CFB_IV_LENGTH = const(16)
VERSION = b"1.10"
MAX_ALGORITHMS = const(7)  # per family in a Hello (RFC 6189 section 5.2)

# Message type blocks (RFC 6189 section 5.1.1)
HELLO = b"Hello   "
HELLOACK = b"HelloACK"
COMMIT = b"Commit  "
DHPART1 = b"DHPart1 "
DHPART2 = b"DHPart2 "
CONFIRM1 = b"Confirm1"
CONFIRM2 = b"Confirm2"
CONF2ACK = b"Conf2ACK"
ERROR = b"Error   "
ERRORACK = b"ErrorACK"
GOCLEAR = b"GoClear "
CLEARACK = b"ClearACK"
SASRELAY = b"SASrelay"
RELAYACK = b"RelayACK"
PING = b"Ping    "
PINGACK = b"PingACK "

# Fixed message lengths in bytes, message header included (RFC 6189 sections 5.2-5.16)
HELLO_FIXED_LENGTH = const(88)
COMMIT_FIXED_LENGTH = const(84)
DHPART_FIXED_LENGTH = const(84)
CONFIRM_FIXED_LENGTH = const(76)
ACK_LENGTH = const(12)
ERROR_LENGTH = const(16)
GOCLEAR_LENGTH = const(20)
SASRELAY_FIXED_LENGTH = const(76)
PING_LENGTH = const(24)
PINGACK_LENGTH = const(36)

# Commit variants, by the key agreement word (RFC 6189 section 5.4)
MULTISTREAM = b"Mult"
PRESHARED = b"Prsh"

# Error codes (RFC 6189 section 5.9)
ERROR_MALFORMED = const(0x10)
ERROR_SOFTWARE = const(0x20)
ERROR_VERSION = const(0x30)
ERROR_HELLO_MISMATCH = const(0x40)
ERROR_HASH = const(0x51)
ERROR_CIPHER = const(0x52)
ERROR_KEY_AGREEMENT = const(0x53)
ERROR_AUTH_TAG = const(0x54)
ERROR_SAS = const(0x55)
ERROR_NO_SHARED_SECRET = const(0x56)
ERROR_BAD_PV = const(0x61)
ERROR_BAD_HVI = const(0x62)
ERROR_UNTRUSTED_MITM = const(0x63)
ERROR_CONFIRM_MAC = const(0x70)
ERROR_NONCE_REUSE = const(0x80)
ERROR_EQUAL_ZID = const(0x90)
ERROR_SSRC_COLLISION = const(0x91)
ERROR_UNAVAILABLE = const(0xA0)
ERROR_TIMEOUT = const(0xB0)
ERROR_GOCLEAR_NOT_ALLOWED = const(0x100)

ERROR_TEXT = {
    0x10: "Malformed packet (CRC OK, but wrong structure)",
    0x20: "Critical software error",
    0x30: "Unsupported ZRTP version",
    0x40: "Hello components mismatch",
    0x51: "Hash Type not supported",
    0x52: "Cipher Type not supported",
    0x53: "Public key exchange not supported",
    0x54: "SRTP auth tag not supported",
    0x55: "SAS rendering scheme not supported",
    0x56: "No shared secret available, DH mode required",
    0x61: "DH Error: bad pvi or pvr (== 1, 0, or p-1)",
    0x62: "DH Error: hvi != hashed data",
    0x63: "Received relayed SAS from untrusted MiTM",
    0x70: "Auth Error: Bad Confirm pkt MAC",
    0x80: "Nonce reuse",
    0x90: "Equal ZIDs in Hello",
    0x91: "SSRC collision",
    0xA0: "Service unavailable",
    0xB0: "Protocol timeout error",
    0x100: "GoClear message received, but not allowed",
}


def _u16(b, i):
    return (b[i] << 8) | b[i + 1]


def _u32(b, i):
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


def _be16(v):
    return bytes(((v >> 8) & 0xFF, v & 0xFF))


def _be32(v):
    return bytes(((v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF))


def _name(type_block):
    return bytes(type_block).decode().rstrip()


def equal(a, b):
    """Compare two byte strings in time that depends only on their length."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def _need(data, what, length):
    if len(data) != length:
        raise ValueError("%s must be %d bytes, got %d" % (what, length, len(data)))


# --- packets ------------------------------------------------------------------------------------

def unframe(data):
    """Check a ZRTP packet and return ``(sequence, ssrc, message)``; MESSAGE is bytes.

    Checks the length, the version nibble, the magic cookie, the CRC-32C (little-endian), the
    message preamble and that the message length field matches the packet."""
    n = len(data)
    if n < MIN_PACKET_LENGTH:
        raise ValueError("ZRTP packet too short: %d bytes, need at least %d" % (n, MIN_PACKET_LENGTH))
    if n > MAX_PACKET_LENGTH:
        raise ValueError("ZRTP packet too long: %d bytes, at most %d" % (n, MAX_PACKET_LENGTH))
    if n & 3:
        raise ValueError("ZRTP packet length %d is not a multiple of 4" % n)
    if data[0] >> 4 != 1:
        raise ValueError("ZRTP packet: first nibble is %d, must be 1" % (data[0] >> 4))
    if data[4:8] != MAGIC_COOKIE:
        raise ValueError("ZRTP packet: no magic cookie")
    crc = data[n - 4] | (data[n - 3] << 8) | (data[n - 2] << 16) | (data[n - 1] << 24)
    if crc32c(data[:n - 4]) != crc:
        raise ValueError("ZRTP packet: bad CRC")
    if data[12:14] != MESSAGE_PREAMBLE:
        raise ValueError("ZRTP message: bad preamble 0x%02x%02x, must be 0x505a" % (data[12], data[13]))
    words = _u16(data, 14)
    if 4 * words != n - PACKET_OVERHEAD:
        raise ValueError("ZRTP message: length field says %d words, the packet holds %d"
                         % (words, (n - PACKET_OVERHEAD) // 4))
    return _u16(data, 2), _u32(data, 8), bytes(data[PACKET_HEADER_LENGTH:n - CRC_LENGTH])


def frame(sequence, ssrc, message):
    """The ZRTP packet carrying MESSAGE: header, message, CRC-32C little-endian."""
    if not 0 <= sequence <= 0xFFFF:
        raise ValueError("ZRTP sequence number %d out of range" % sequence)
    head = b"\x10\x00" + _be16(sequence) + MAGIC_COOKIE + _be32(ssrc & 0xFFFFFFFF)
    body = head + message
    crc = crc32c(body)
    return body + bytes((crc & 0xFF, (crc >> 8) & 0xFF, (crc >> 16) & 0xFF, (crc >> 24) & 0xFF))


def reframe(packet, sequence):
    """PACKET with a new sequence number and CRC: a retransmission (RFC 6189 section 6)."""
    return frame(sequence, _u32(packet, 8), packet[PACKET_HEADER_LENGTH:len(packet) - CRC_LENGTH])


def header(type_block, length):
    """The 12-byte message header for a message of LENGTH bytes (a multiple of 4)."""
    return MESSAGE_PREAMBLE + _be16(length >> 2) + type_block


def message_type(message):
    """The 8-byte type block of a message (after :func:`unframe`)."""
    if len(message) < MESSAGE_HEADER_LENGTH:
        raise ValueError("ZRTP message too short: %d bytes" % len(message))
    return bytes(message[4:12])


# --- the implicit MAC (RFC 6189 section 9) ------------------------------------------------------

def implicit_mac(key, data):
    """HMAC-SHA-256 truncated to 64 bits: the MAC of Hello, Commit and DHPart (section 9)."""
    return crypto.hmac_sha256(key, data)[:MAC_LENGTH]


def seal(message, key):
    """MESSAGE with its trailing 8-byte MAC field set to the implicit MAC keyed with KEY."""
    body = message[:-MAC_LENGTH]
    return body + implicit_mac(key, body)


def mac_ok(message, key):
    """True when the trailing MAC of MESSAGE is the implicit MAC keyed with KEY."""
    return equal(implicit_mac(key, message[:-MAC_LENGTH]), message[-MAC_LENGTH:])


# --- messages -----------------------------------------------------------------------------------

class Message:
    TYPE = None
    raw = None

    @property
    def name(self):
        return _name(self.TYPE)


class Hello(Message):
    """Hello (RFC 6189 section 5.2). Algorithm lists hold the 4-byte names as sent."""

    TYPE = HELLO

    def __init__(self, version=VERSION, client_id=b"", h3=b"", zid=b"", s=False, m=False, p=False,
                 hashes=(), ciphers=(), auth_tags=(), key_agreements=(), sas_types=(), mac=bytes(8)):
        self.version = version
        self.client_id = client_id
        self.h3 = h3
        self.zid = zid
        self.s = s
        self.m = m
        self.p = p
        self.hashes = list(hashes)
        self.ciphers = list(ciphers)
        self.auth_tags = list(auth_tags)
        self.key_agreements = list(key_agreements)
        self.sas_types = list(sas_types)
        self.mac = mac

    @classmethod
    def parse(cls, message):
        n = len(message)
        if n < HELLO_FIXED_LENGTH:
            raise ValueError("Hello too short: %d bytes, need at least %d" % (n, HELLO_FIXED_LENGTH))
        b = message
        flags = b[76]
        hc = b[77] & 0x0F
        cc, ac = b[78] >> 4, b[78] & 0x0F
        kc, sc = b[79] >> 4, b[79] & 0x0F
        for what, count in (("hash", hc), ("cipher", cc), ("auth tag", ac), ("key agreement", kc), ("SAS", sc)):
            if count > MAX_ALGORITHMS:
                raise ValueError("Hello: %s count %d exceeds %d" % (what, count, MAX_ALGORITHMS))
        expect = HELLO_FIXED_LENGTH + 4 * (hc + cc + ac + kc + sc)
        if n != expect:
            raise ValueError("Hello: length %d bytes does not match its algorithm counts (%d bytes)" % (n, expect))
        i = 80
        lists = []
        for count in (hc, cc, ac, kc, sc):
            lists.append([bytes(b[j:j + 4]) for j in range(i, i + 4 * count, 4)])
            i += 4 * count
        h = cls(bytes(b[12:16]), bytes(b[16:32]), bytes(b[32:64]), bytes(b[64:76]), bool(flags & 0x40),
                bool(flags & 0x20), bool(flags & 0x10), lists[0], lists[1], lists[2], lists[3], lists[4],
                bytes(b[i:i + 8]))
        h.raw = bytes(message)
        return h

    def encode(self):
        _need(self.version, "Hello version", 4)
        _need(self.client_id, "Hello client identifier", 16)
        _need(self.h3, "Hello H3", HASH_IMAGE_LENGTH)
        _need(self.zid, "Hello ZID", ZID_LENGTH)
        _need(self.mac, "Hello MAC", MAC_LENGTH)
        counts = (len(self.hashes), len(self.ciphers), len(self.auth_tags), len(self.key_agreements),
                  len(self.sas_types))
        for count in counts:
            if count > MAX_ALGORITHMS:
                raise ValueError("Hello: at most %d algorithms per family, got %d" % (MAX_ALGORITHMS, count))
        hc, cc, ac, kc, sc = counts
        length = HELLO_FIXED_LENGTH + 4 * sum(counts)
        flags = (0x40 if self.s else 0) | (0x20 if self.m else 0) | (0x10 if self.p else 0)
        parts = [header(HELLO, length), self.version, self.client_id, self.h3, self.zid,
                 bytes((flags, hc, (cc << 4) | ac, (kc << 4) | sc))]
        for names in (self.hashes, self.ciphers, self.auth_tags, self.key_agreements, self.sas_types):
            for algo in names:
                _need(algo, "algorithm name", 4)
                parts.append(algo)
        parts.append(self.mac)
        return b"".join(parts)


class Ack(Message):
    """HelloACK, Conf2ACK, ErrorACK, ClearACK, RelayACK: a bare message header."""

    def __init__(self, type_block):
        self.TYPE = type_block

    @classmethod
    def parse(cls, message):
        t = message_type(message)
        if len(message) != ACK_LENGTH:
            raise ValueError("%s must be %d bytes, got %d" % (_name(t), ACK_LENGTH, len(message)))
        a = cls(t)
        a.raw = bytes(message)
        return a

    def encode(self):
        return header(self.TYPE, ACK_LENGTH)


class Commit(Message):
    """Commit (RFC 6189 section 5.4): DH (hvi), multistream (nonce) or preshared (nonce, key ID)."""

    TYPE = COMMIT

    def __init__(self, h2=b"", zid=b"", hash=b"", cipher=b"", auth_tag=b"", key_agreement=b"", sas=b"",
                 hvi=None, nonce=None, key_id=None, mac=bytes(8)):
        self.h2 = h2
        self.zid = zid
        self.hash = hash
        self.cipher = cipher
        self.auth_tag = auth_tag
        self.key_agreement = key_agreement
        self.sas = sas
        self.hvi = hvi
        self.nonce = nonce
        self.key_id = key_id
        self.mac = mac

    @property
    def multistream(self):
        return self.key_agreement == MULTISTREAM

    @property
    def preshared(self):
        return self.key_agreement == PRESHARED

    @classmethod
    def parse(cls, message):
        n = len(message)
        if n < COMMIT_FIXED_LENGTH + 16:
            raise ValueError("Commit too short: %d bytes, need at least %d" % (n, COMMIT_FIXED_LENGTH + 16))
        b = message
        ka = bytes(b[68:72])
        variable = 16 if ka == MULTISTREAM else (24 if ka == PRESHARED else 32)
        if n != COMMIT_FIXED_LENGTH + variable:
            raise ValueError("Commit with key agreement %r must be %d bytes, got %d"
                             % (ka, COMMIT_FIXED_LENGTH + variable, n))
        c = cls(bytes(b[12:44]), bytes(b[44:56]), bytes(b[56:60]), bytes(b[60:64]), bytes(b[64:68]), ka,
                bytes(b[72:76]), mac=bytes(b[n - 8:]))
        if variable == 32:
            c.hvi = bytes(b[76:108])
        else:
            c.nonce = bytes(b[76:92])
            if variable == 24:
                c.key_id = bytes(b[92:100])
        c.raw = bytes(message)
        return c

    def encode(self):
        _need(self.h2, "Commit H2", HASH_IMAGE_LENGTH)
        _need(self.zid, "Commit ZID", ZID_LENGTH)
        for what, v in (("hash", self.hash), ("cipher", self.cipher), ("auth tag", self.auth_tag),
                        ("key agreement", self.key_agreement), ("SAS", self.sas)):
            _need(v, "Commit %s" % what, 4)
        _need(self.mac, "Commit MAC", MAC_LENGTH)
        if self.key_agreement == MULTISTREAM:
            _need(self.nonce or b"", "Commit nonce", 16)
            tail = self.nonce
        elif self.key_agreement == PRESHARED:
            _need(self.nonce or b"", "Commit nonce", 16)
            _need(self.key_id or b"", "Commit key ID", 8)
            tail = self.nonce + self.key_id
        else:
            _need(self.hvi or b"", "Commit hvi", 32)
            tail = self.hvi
        length = COMMIT_FIXED_LENGTH + len(tail)
        return b"".join((header(COMMIT, length), self.h2, self.zid, self.hash, self.cipher, self.auth_tag,
                         self.key_agreement, self.sas, tail, self.mac))


class DHPart(Message):
    """DHPart1 (responder) and DHPart2 (initiator), RFC 6189 sections 5.5 and 5.6.

    The public value's length depends on the key agreement the Commit chose: the parser takes
    what the message length leaves, the engine checks it against the negotiated algorithm."""

    def __init__(self, part=1, h1=b"", rs1_id=b"", rs2_id=b"", aux_id=b"", pbx_id=b"", pv=b"", mac=bytes(8)):
        self.part = part
        self.TYPE = DHPART1 if part == 1 else DHPART2
        self.h1 = h1
        self.rs1_id = rs1_id
        self.rs2_id = rs2_id
        self.aux_id = aux_id
        self.pbx_id = pbx_id
        self.pv = pv
        self.mac = mac

    @classmethod
    def parse(cls, message):
        t = message_type(message)
        n = len(message)
        if n < DHPART_FIXED_LENGTH + 4:
            raise ValueError("%s too short: %d bytes, need at least %d" % (_name(t), n, DHPART_FIXED_LENGTH + 4))
        b = message
        d = cls(1 if t == DHPART1 else 2, bytes(b[12:44]), bytes(b[44:52]), bytes(b[52:60]), bytes(b[60:68]),
                bytes(b[68:76]), bytes(b[76:n - 8]), bytes(b[n - 8:]))
        d.raw = bytes(message)
        return d

    def encode(self):
        name = _name(self.TYPE)
        _need(self.h1, name + " H1", HASH_IMAGE_LENGTH)
        for what, v in (("rs1ID", self.rs1_id), ("rs2ID", self.rs2_id), ("auxsecretID", self.aux_id),
                        ("pbxsecretID", self.pbx_id), ("MAC", self.mac)):
            _need(v, "%s %s" % (name, what), 8)
        if not self.pv or len(self.pv) & 3:
            raise ValueError("%s public value must be a non-empty multiple of 4 bytes, got %d" % (name, len(self.pv)))
        length = DHPART_FIXED_LENGTH + len(self.pv)
        return b"".join((header(self.TYPE, length), self.h1, self.rs1_id, self.rs2_id, self.aux_id, self.pbx_id,
                         self.pv, self.mac))


class ConfirmBody:
    """The encrypted part of Confirm1/Confirm2 (RFC 6189 section 5.7)."""

    def __init__(self, h0=b"", e=False, v=False, a=False, d=False, expiry=0xFFFFFFFF, signature=b""):
        self.h0 = h0
        self.e = e
        self.v = v
        self.a = a
        self.d = d
        self.expiry = expiry
        self.signature = signature  # signature type block and signature, whole words

    @classmethod
    def parse(cls, plain, what="Confirm"):
        n = len(plain)
        if n < 40:
            raise ValueError("%s: encrypted part too short: %d bytes, need at least 40" % (what, n))
        sig_len = ((plain[33] & 1) << 8) | plain[34]
        if n != 40 + 4 * sig_len:
            raise ValueError("%s: signature length %d words does not match the %d encrypted bytes"
                             % (what, sig_len, n))
        f = plain[35]
        return cls(bytes(plain[:32]), bool(f & 8), bool(f & 4), bool(f & 2), bool(f & 1), _u32(plain, 36),
                   bytes(plain[40:]))

    def encode(self):
        _need(self.h0, "Confirm H0", HASH_IMAGE_LENGTH)
        if len(self.signature) & 3 or len(self.signature) > 4 * 511:
            raise ValueError("Confirm signature must be whole words, at most 511, got %d bytes" % len(self.signature))
        sig_len = len(self.signature) >> 2
        flags = (8 if self.e else 0) | (4 if self.v else 0) | (2 if self.a else 0) | (1 if self.d else 0)
        return b"".join((self.h0, bytes((0, sig_len >> 8, sig_len & 0xFF, flags)), _be32(self.expiry),
                         self.signature))


class Confirm(Message):
    """Confirm1 (responder) and Confirm2 (initiator), RFC 6189 section 5.7.

    ``confirm_mac`` is the negotiated MAC, keyed with the sender's mackey, over the encrypted
    part; the encrypted part is AES-CFB with the sender's zrtpkey and ``iv``."""

    def __init__(self, part=1, confirm_mac=bytes(8), iv=bytes(16), ciphertext=b""):
        self.part = part
        self.TYPE = CONFIRM1 if part == 1 else CONFIRM2
        self.confirm_mac = confirm_mac
        self.iv = iv
        self.ciphertext = ciphertext

    @classmethod
    def parse(cls, message):
        t = message_type(message)
        n = len(message)
        if n < CONFIRM_FIXED_LENGTH:
            raise ValueError("%s too short: %d bytes, need at least %d" % (_name(t), n, CONFIRM_FIXED_LENGTH))
        c = cls(1 if t == CONFIRM1 else 2, bytes(message[12:20]), bytes(message[20:36]), bytes(message[36:]))
        c.raw = bytes(message)
        return c

    def encode(self):
        _need(self.confirm_mac, "Confirm MAC", MAC_LENGTH)
        _need(self.iv, "Confirm CFB IV", CFB_IV_LENGTH)
        length = MESSAGE_HEADER_LENGTH + 24 + len(self.ciphertext)
        if len(self.ciphertext) < 40 or len(self.ciphertext) & 3:
            raise ValueError("Confirm encrypted part must be at least 40 bytes in whole words, got %d"
                             % len(self.ciphertext))
        return b"".join((header(self.TYPE, length), self.confirm_mac, self.iv, self.ciphertext))

    def mac_ok(self, mackey, hmac):
        """True when confirm_mac is HMAC (the negotiated one) of the encrypted part under MACKEY."""
        return equal(hmac(mackey, self.ciphertext)[:MAC_LENGTH], self.confirm_mac)

    def open(self, zrtpkey, mackey, hmac):
        """The decrypted :class:`ConfirmBody`; ValueError when the MAC or the structure is wrong."""
        if not self.mac_ok(mackey, hmac):
            raise ValueError("%s: confirm_mac does not match" % self.name)
        return ConfirmBody.parse(crypto.aes_cfb_decrypt(zrtpkey, self.iv, self.ciphertext), self.name)

    @classmethod
    def seal(cls, part, body, iv, zrtpkey, mackey, hmac):
        """A Confirm carrying BODY, encrypted with ZRTPKEY and IV, authenticated with MACKEY."""
        ct = crypto.aes_cfb_encrypt(zrtpkey, iv, body.encode())
        return cls(part, hmac(mackey, ct)[:MAC_LENGTH], iv, ct)


class Error(Message):
    """Error (RFC 6189 section 5.9): one 32-bit error code."""

    TYPE = ERROR

    def __init__(self, code=0):
        self.code = code

    @classmethod
    def parse(cls, message):
        if len(message) != ERROR_LENGTH:
            raise ValueError("Error must be %d bytes, got %d" % (ERROR_LENGTH, len(message)))
        e = cls(_u32(message, 12))
        e.raw = bytes(message)
        return e

    def encode(self):
        return header(ERROR, ERROR_LENGTH) + _be32(self.code)

    @property
    def text(self):
        return ERROR_TEXT.get(self.code, "unknown error 0x%x" % self.code)


class GoClear(Message):
    """GoClear (RFC 6189 section 5.11): clear_mac, the sender's MAC over "GoClear"."""

    TYPE = GOCLEAR

    def __init__(self, clear_mac=bytes(8)):
        self.clear_mac = clear_mac

    @classmethod
    def parse(cls, message):
        if len(message) != GOCLEAR_LENGTH:
            raise ValueError("GoClear must be %d bytes, got %d" % (GOCLEAR_LENGTH, len(message)))
        g = cls(bytes(message[12:20]))
        g.raw = bytes(message)
        return g

    def encode(self):
        _need(self.clear_mac, "GoClear clear_mac", MAC_LENGTH)
        return header(GOCLEAR, GOCLEAR_LENGTH) + self.clear_mac


class SasRelayBody:
    """The encrypted part of SASrelay (RFC 6189 section 5.13)."""

    def __init__(self, v=False, a=False, d=False, scheme=b"B32 ", sashash=bytes(32), signature=b""):
        self.v = v
        self.a = a
        self.d = d
        self.scheme = scheme
        self.sashash = sashash
        self.signature = signature

    @classmethod
    def parse(cls, plain):
        n = len(plain)
        if n < 40:
            raise ValueError("SASrelay: encrypted part too short: %d bytes, need at least 40" % n)
        sig_len = ((plain[1] & 1) << 8) | plain[2]
        if n != 40 + 4 * sig_len:
            raise ValueError("SASrelay: signature length %d words does not match the %d encrypted bytes"
                             % (sig_len, n))
        f = plain[3]
        return cls(bool(f & 4), bool(f & 2), bool(f & 1), bytes(plain[4:8]), bytes(plain[8:40]), bytes(plain[40:]))

    def encode(self):
        _need(self.scheme, "SASrelay rendering scheme", 4)
        _need(self.sashash, "SASrelay sashash", 32)
        if len(self.signature) & 3 or len(self.signature) > 4 * 511:
            raise ValueError("SASrelay signature must be whole words, at most 511, got %d bytes" % len(self.signature))
        sig_len = len(self.signature) >> 2
        flags = (4 if self.v else 0) | (2 if self.a else 0) | (1 if self.d else 0)
        return b"".join((bytes((0, sig_len >> 8, sig_len & 0xFF, flags)), self.scheme, self.sashash, self.signature))


class SasRelay(Message):
    """SASrelay (RFC 6189 section 5.13), encrypted and authenticated like a Confirm."""

    TYPE = SASRELAY

    def __init__(self, mac=bytes(8), iv=bytes(16), ciphertext=b""):
        self.mac = mac
        self.iv = iv
        self.ciphertext = ciphertext

    @classmethod
    def parse(cls, message):
        n = len(message)
        if n < SASRELAY_FIXED_LENGTH:
            raise ValueError("SASrelay too short: %d bytes, need at least %d" % (n, SASRELAY_FIXED_LENGTH))
        s = cls(bytes(message[12:20]), bytes(message[20:36]), bytes(message[36:]))
        s.raw = bytes(message)
        return s

    def encode(self):
        _need(self.mac, "SASrelay MAC", MAC_LENGTH)
        _need(self.iv, "SASrelay CFB IV", CFB_IV_LENGTH)
        if len(self.ciphertext) < 40 or len(self.ciphertext) & 3:
            raise ValueError("SASrelay encrypted part must be at least 40 bytes in whole words, got %d"
                             % len(self.ciphertext))
        length = MESSAGE_HEADER_LENGTH + 24 + len(self.ciphertext)
        return b"".join((header(SASRELAY, length), self.mac, self.iv, self.ciphertext))

    def mac_ok(self, mackey, hmac):
        return equal(hmac(mackey, self.ciphertext)[:MAC_LENGTH], self.mac)

    def open(self, zrtpkey, mackey, hmac):
        if not self.mac_ok(mackey, hmac):
            raise ValueError("SASrelay: MAC does not match")
        return SasRelayBody.parse(crypto.aes_cfb_decrypt(zrtpkey, self.iv, self.ciphertext))

    @classmethod
    def seal(cls, body, iv, zrtpkey, mackey, hmac):
        ct = crypto.aes_cfb_encrypt(zrtpkey, iv, body.encode())
        return cls(hmac(mackey, ct)[:MAC_LENGTH], iv, ct)


class Ping(Message):
    """Ping (RFC 6189 section 5.15)."""

    TYPE = PING

    def __init__(self, version=VERSION, endpoint_hash=bytes(8)):
        self.version = version
        self.endpoint_hash = endpoint_hash

    @classmethod
    def parse(cls, message):
        if len(message) != PING_LENGTH:
            raise ValueError("Ping must be %d bytes, got %d" % (PING_LENGTH, len(message)))
        p = cls(bytes(message[12:16]), bytes(message[16:24]))
        p.raw = bytes(message)
        return p

    def encode(self):
        _need(self.version, "Ping version", 4)
        _need(self.endpoint_hash, "Ping endpointHash", 8)
        return header(PING, PING_LENGTH) + self.version + self.endpoint_hash


class PingAck(Message):
    """PingACK (RFC 6189 section 5.16)."""

    TYPE = PINGACK

    def __init__(self, version=VERSION, endpoint_hash=bytes(8), received_hash=bytes(8), ssrc=0):
        self.version = version
        self.endpoint_hash = endpoint_hash
        self.received_hash = received_hash
        self.ssrc = ssrc

    @classmethod
    def parse(cls, message):
        if len(message) != PINGACK_LENGTH:
            raise ValueError("PingACK must be %d bytes, got %d" % (PINGACK_LENGTH, len(message)))
        p = cls(bytes(message[12:16]), bytes(message[16:24]), bytes(message[24:32]), _u32(message, 32))
        p.raw = bytes(message)
        return p

    def encode(self):
        _need(self.version, "PingACK version", 4)
        _need(self.endpoint_hash, "PingACK endpointHash", 8)
        _need(self.received_hash, "PingACK endpointHash received", 8)
        return header(PINGACK, PINGACK_LENGTH) + self.version + self.endpoint_hash + self.received_hash + _be32(self.ssrc)


_PARSERS = {
    HELLO: Hello.parse,
    HELLOACK: Ack.parse,
    COMMIT: Commit.parse,
    DHPART1: DHPart.parse,
    DHPART2: DHPart.parse,
    CONFIRM1: Confirm.parse,
    CONFIRM2: Confirm.parse,
    CONF2ACK: Ack.parse,
    ERROR: Error.parse,
    ERRORACK: Ack.parse,
    GOCLEAR: GoClear.parse,
    CLEARACK: Ack.parse,
    SASRELAY: SasRelay.parse,
    RELAYACK: Ack.parse,
    PING: Ping.parse,
    PINGACK: PingAck.parse,
}


def parse(message):
    """The message object for MESSAGE (bytes from :func:`unframe`)."""
    t = message_type(message)
    if message[:2] != MESSAGE_PREAMBLE:
        raise ValueError("ZRTP message: bad preamble")
    if 4 * _u16(message, 2) != len(message):
        raise ValueError("ZRTP message: length field says %d words, got %d bytes" % (_u16(message, 2), len(message)))
    p = _PARSERS.get(t)
    if p is None:
        raise ValueError("ZRTP message: unknown type %r" % (t,))
    return p(message)


def parse_packet(data):
    """``(sequence, ssrc, message_object)`` for a whole ZRTP packet."""
    sequence, ssrc, message = unframe(data)
    return sequence, ssrc, parse(message)
