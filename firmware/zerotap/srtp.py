"""SRTP and SRTCP (RFC 3711, RFC 6188), interoperable with libsrtp.

Shaped like pylibsrtp: one :class:`Session` per direction and master key,

    tx = Session(AES_CM_128_HMAC_SHA1_80, master_key, master_salt)
    srtp = tx.protect(rtp)            rtp = rx.unprotect(srtp)
    srtcp = tx.protect_rtcp(rtcp)     rtcp = rx.unprotect_rtcp(srtcp)

and, for the media path, in-place variants that work on the caller's buffer and return the new
length: ``protect_into(buf, length)`` and so on. One session serves up to MAX_SSRCS SSRCs (as
libsrtp's ssrc_any_inbound/outbound, but bounded): the rollover counter, the replay window and
the SRTCP index are kept per SSRC, in objects made once when an SSRC is first seen.

Errors: a packet that is too short or malformed raises :class:`MalformedError`, a wrong tag
:class:`AuthenticationError`, a replayed packet or one older than the window :class:`ReplayError`;
all three are ``ValueError``. Given a :class:`Drops` object, the ``*_into`` methods count the
drop and return a negative code instead, so the media loop never has to catch anything.

The ciphers are ``zerotap.crypto``'s ``SrtpTransform`` (AES-CM and HMAC-SHA1 in one call, tag
compared in constant time); pass ``backend=crypto.backend(name)`` to pick one.
"""
import micropython
from micropython import const

from zerotap import crypto as _crypto
from zerotap import rtp as _rtp

# Profiles by their RFC 4568 section 6.2 / RFC 6188 section 6 names:
# name -> (master key length, SRTP tag length, SRTCP tag length).
# RFC 4568 section 6.2.2 and RFC 6188 section 6: the _32 profiles keep an 80-bit SRTCP tag (SDES;
# keys from ZRTP take the SRTP tag for SRTCP too: Session's zrtp=True).
AES_CM_128_HMAC_SHA1_80 = "AES_CM_128_HMAC_SHA1_80"
AES_CM_128_HMAC_SHA1_32 = "AES_CM_128_HMAC_SHA1_32"
AES_256_CM_HMAC_SHA1_80 = "AES_256_CM_HMAC_SHA1_80"
AES_256_CM_HMAC_SHA1_32 = "AES_256_CM_HMAC_SHA1_32"
PROFILES = {
    AES_CM_128_HMAC_SHA1_80: (16, 10, 10),
    AES_CM_128_HMAC_SHA1_32: (16, 4, 10),
    AES_256_CM_HMAC_SHA1_80: (32, 10, 10),
    AES_256_CM_HMAC_SHA1_32: (32, 4, 10),
}

# RFC 6189 section 5.1.3 (cipher) and 5.1.4 (auth tag) names -> profile (section 7.5).
ZRTP_PROFILES = {
    ("AES1", "HS80"): AES_CM_128_HMAC_SHA1_80,
    ("AES1", "HS32"): AES_CM_128_HMAC_SHA1_32,
    ("AES3", "HS80"): AES_256_CM_HMAC_SHA1_80,
    ("AES3", "HS32"): AES_256_CM_HMAC_SHA1_32,
}

MASTER_SALT_LENGTH = const(14)  # RFC 3711 section 8.2: 112 bits
SESSION_SALT_LENGTH = const(14)
SESSION_AUTH_KEY_LENGTH = const(20)  # RFC 3711 section 4.2.1: n_a = 160

# RFC 3711 section 4.3.2: key derivation labels.
LABEL_RTP_ENCRYPTION = const(0x00)
LABEL_RTP_MSG_AUTH = const(0x01)
LABEL_RTP_SALT = const(0x02)
LABEL_RTCP_ENCRYPTION = const(0x03)
LABEL_RTCP_MSG_AUTH = const(0x04)
LABEL_RTCP_SALT = const(0x05)

# RFC 3711 section 3.3.2: the window must hold at least 64 packets; libsrtp's default is 128.
REPLAY_WINDOW = const(128)
_WINDOW_MASK = const(127)
_WINDOW_BYTES = const(16)

# At most this many SSRCs per direction, for SRTP and for SRTCP: a new SSRC beyond them is dropped
# (ERR_SSRCS), never given state, so that a stream of new SSRCs (a peer holding the keys, a host
# sending as the phone) cannot fill the heap. Never evicted: a sender's state dropped and made
# again would reuse its keystream, a receiver's would take its old packets again. Four: an SSRC
# changes within one ZRTP-keyed session only on a collision or a sender's restart (RFC 3550 8.2),
# and each costs about 130 bytes per table on a 32-bit board, where a call has 8 KiB.
MAX_SSRCS = const(4)

SRTCP_INDEX_LENGTH = const(4)  # RFC 3711 section 3.4: E flag and 31-bit SRTCP index
SRTCP_INDEX_MAX = const(0x7FFFFFFF)
_SEQ_MEDIAN = const(32768)  # RFC 3711 Appendix A: 2^15

# Error codes of the *_into methods (the rtp module's ERR_RTP_* codes, -1 to -5, come too).
# -1 .. -19 malformed, -20 .. -29 authentication, -30 .. -39 replay, below: other.
ERR_SRTP_SHORT = const(-10)
ERR_SRTCP_SHORT = const(-11)
ERR_RTCP_SHORT = const(-12)
ERR_RTCP_VERSION = const(-13)
ERR_NO_ROOM = const(-14)
ERR_AUTH = const(-20)
ERR_RTCP_AUTH = const(-21)
ERR_REPLAY = const(-30)
ERR_TOO_OLD = const(-31)
ERR_RTCP_REPLAY = const(-32)
ERR_RTCP_TOO_OLD = const(-33)
ERR_INDEX_USED = const(-34)
ERR_INDEX_TOO_OLD = const(-35)
ERR_RTCP_INDEX_EXHAUSTED = const(-40)
ERR_SSRCS = const(-41)

ERRORS = {
    ERR_SRTP_SHORT: "SRTP packet shorter than an RTP header and its authentication tag",
    ERR_SRTCP_SHORT: "SRTCP packet shorter than an RTCP header, the SRTCP index and the tag",
    ERR_RTCP_SHORT: "RTCP packet shorter than the 8-byte header",
    ERR_RTCP_VERSION: "RTCP version is not 2",
    ERR_NO_ROOM: "buffer has no room for the SRTP trailer",
    ERR_AUTH: "SRTP authentication failed",
    ERR_RTCP_AUTH: "SRTCP authentication failed",
    ERR_REPLAY: "SRTP packet replayed",
    ERR_TOO_OLD: "SRTP packet older than the replay window",
    ERR_RTCP_REPLAY: "SRTCP packet replayed",
    ERR_RTCP_TOO_OLD: "SRTCP packet older than the replay window",
    ERR_INDEX_USED: "SRTP index already protected: refusing to reuse the keystream",
    ERR_INDEX_TOO_OLD: "SRTP index older than the replay window: refusing to protect",
    ERR_RTCP_INDEX_EXHAUSTED: "SRTCP index space exhausted: re-key the session",
    ERR_SSRCS: "too many SSRCs: a packet of a new one dropped",
}
for _code in _rtp.ERRORS:
    ERRORS[_code] = _rtp.ERRORS[_code]


class SrtpError(ValueError):
    """Base of the SRTP errors."""


class MalformedError(SrtpError):
    """The packet is too short, or its header is not what RTP/RTCP allows."""


class AuthenticationError(SrtpError):
    """The authentication tag does not match."""


class ReplayError(SrtpError):
    """The packet was seen before, or is older than the replay window."""


def error(code):
    """The exception for a negative code of the ``*_into`` methods."""
    message = ERRORS.get(code, "SRTP error")
    if code > -20:
        return MalformedError(message)
    if code > -30:
        return AuthenticationError(message)
    if code > -40:
        return ReplayError(message)
    return SrtpError(message)


class Drops:
    """Counts of dropped packets, by kind, for a media loop that must not raise."""

    def __init__(self):
        self.malformed = 0
        self.authentication = 0
        self.replay = 0  # replayed, or (too_old) older than the window
        self.too_old = 0
        self.other = 0

    @property
    def total(self):
        return self.malformed + self.authentication + self.replay + self.other

    def count(self, code):
        if code > -20:
            self.malformed += 1
        elif code > -30:
            self.authentication += 1
        elif code > -40:
            self.replay += 1
            if code == ERR_TOO_OLD or code == ERR_RTCP_TOO_OLD or code == ERR_INDEX_TOO_OLD:
                self.too_old += 1
        else:
            self.other += 1

    def __repr__(self):
        return "Drops(malformed=%d, authentication=%d, replay=%d, too_old=%d, other=%d)" % (
            self.malformed, self.authentication, self.replay, self.too_old, self.other)


def profile_for_zrtp(cipher, auth_tag):
    """The SRTP profile for ZRTP's negotiated cipher and auth tag type (RFC 6189 section 7.5)."""
    profile = ZRTP_PROFILES.get((cipher, auth_tag))
    if profile is None:
        raise ValueError("no SRTP profile for ZRTP cipher %s with auth tag %s" % (cipher, auth_tag))
    return profile


def derive_key(master_key, master_salt, label, length, backend=None):
    """RFC 3711 section 4.3.1 (and RFC 6188 section 5.3 for 256-bit keys), key_derivation_rate 0.

    With r = 0, key_id = label || 0^48, x = key_id XOR master_salt, and the session key is the
    AES-CM keystream of the master key from IV = x * 2^16.
    """
    if len(master_salt) != MASTER_SALT_LENGTH:
        raise ValueError("master salt must be 14 bytes")
    iv = bytearray(16)
    iv[0:MASTER_SALT_LENGTH] = master_salt
    iv[7] ^= label  # key_id is 56 bits, right-aligned against the 112-bit salt
    return (backend or _crypto).aes_ctr(master_key, iv, bytes(length))


def iv(session_salt, ssrc, index):
    """RFC 3711 section 4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), 16 bytes."""
    if len(session_salt) != SESSION_SALT_LENGTH:
        raise ValueError("session salt must be 14 bytes")
    out = bytearray(16)
    out[0:SESSION_SALT_LENGTH] = session_salt
    for k in range(4):
        out[4 + k] ^= (ssrc >> (24 - 8 * k)) & 0xFF
    for k in range(6):
        out[8 + k] ^= (index >> (40 - 8 * k)) & 0xFF
    return bytes(out)


def estimate_index(highest, seq):
    """RFC 3711 Appendix A: the 48-bit index of sequence number ``seq``.

    ``highest`` is the highest index accepted so far (ROC * 2^16 + s_l). A guess of ROC - 1
    while the ROC is still 0 becomes 0, as libsrtp does: there is no packet before the first.
    """
    roc = highest >> 16
    s_l = highest & 0xFFFF
    if s_l < _SEQ_MEDIAN:
        if seq - s_l > _SEQ_MEDIAN and roc:
            roc -= 1
    elif s_l - _SEQ_MEDIAN > seq:
        roc = (roc + 1) & 0xFFFFFFFF
    return (roc << 16) | seq


class _Stream:
    """Per-SSRC state of one direction: the highest index and a replay window.

    The window is a ring of REPLAY_WINDOW bits: bit (i mod REPLAY_WINDOW) is set when index i,
    highest - REPLAY_WINDOW < i <= highest, was accepted (RFC 3711 section 3.3.2).
    For SRTCP, ``highest`` is the SRTCP index and ``next`` the sender's next one.
    """

    def __init__(self, ssrc_bytes, ssrc, index):
        # The SSRC as two 16-bit halves: compared on every packet, small ints on every port.
        self.hi = (ssrc_bytes[0] << 8) | ssrc_bytes[1]
        self.lo = (ssrc_bytes[2] << 8) | ssrc_bytes[3]
        self.ssrc = ssrc
        self.highest = index
        self.next = 0
        self.window = bytearray(_WINDOW_BYTES)
        pos = index & _WINDOW_MASK
        self.window[pos >> 3] = 1 << (pos & 7)

    def check(self, index):
        """0 when ``index`` is new, 1 when seen, 2 when older than the window."""
        delta = index - self.highest
        if delta > 0:
            return 0
        if delta <= -REPLAY_WINDOW:
            return 2
        pos = index & _WINDOW_MASK
        if self.window[pos >> 3] & (1 << (pos & 7)):
            return 1
        return 0

    def add(self, index):
        w = self.window
        delta = index - self.highest
        if delta > 0:
            if delta >= REPLAY_WINDOW:
                for k in range(_WINDOW_BYTES):
                    w[k] = 0
            else:
                i = self.highest + 1
                while i < index:
                    pos = i & _WINDOW_MASK
                    w[pos >> 3] &= ~(1 << (pos & 7))
                    i += 1
            self.highest = index
        pos = index & _WINDOW_MASK
        w[pos >> 3] |= 1 << (pos & 7)


def _ssrc(buf, i):
    return (buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]


class _Streams:
    """SSRC -> _Stream (or the native backend's SrtpStream, the same in C), with the last one used
    cached so the media path needs no lookup."""

    def __init__(self, stream=None):
        self.by_ssrc = {}
        self.last = None
        self._stream = stream or _Stream

    def find(self, buf, i):
        s = self.last
        if s is not None and s.hi == (buf[i] << 8) | buf[i + 1] and s.lo == (buf[i + 2] << 8) | buf[i + 3]:
            return s
        s = self.by_ssrc.get(_ssrc(buf, i))
        if s is not None:
            self.last = s
        return s

    def add(self, buf, i, ssrc, index):
        s = self._stream(bytes(buf[i:i + 4]), ssrc, index)
        self.by_ssrc[ssrc] = s
        self.last = s
        return s


class Session:
    """SRTP and SRTCP for one direction under one master key and salt, up to MAX_SSRCS SSRCs.

    ``zrtp=True``: keys from ZRTP, whose implementations (bzrtp with mediastreamer2, GNU ZRTP)
    give SRTCP the negotiated tag length too, HS32 included; the 80-bit SRTCP tag of the _32
    profiles is RFC 4568's, for SDES."""

    def __init__(self, profile, master_key, master_salt, backend=None, zrtp=False):
        params = PROFILES.get(profile)
        if params is None:
            raise ValueError("unknown SRTP profile %r" % (profile,))
        key_length, tag_length, rtcp_tag_length = params
        if zrtp:
            rtcp_tag_length = tag_length
        if len(master_key) != key_length:
            raise ValueError("master key must be %d bytes for %s" % (key_length, profile))
        if len(master_salt) != MASTER_SALT_LENGTH:
            raise ValueError("master salt must be 14 bytes")
        c = backend or _crypto
        self.profile = profile
        self.tag_length = tag_length
        self.rtcp_tag_length = rtcp_tag_length
        # RFC 3711 section 4.3: six session keys, then the master key is no longer needed.
        self._rtp = c.SrtpTransform(
            derive_key(master_key, master_salt, LABEL_RTP_ENCRYPTION, key_length, c),
            derive_key(master_key, master_salt, LABEL_RTP_SALT, SESSION_SALT_LENGTH, c),
            derive_key(master_key, master_salt, LABEL_RTP_MSG_AUTH, SESSION_AUTH_KEY_LENGTH, c),
            tag_length)
        self._rtcp = c.SrtpTransform(
            derive_key(master_key, master_salt, LABEL_RTCP_ENCRYPTION, key_length, c),
            derive_key(master_key, master_salt, LABEL_RTCP_SALT, SESSION_SALT_LENGTH, c),
            derive_key(master_key, master_salt, LABEL_RTCP_MSG_AUTH, SESSION_AUTH_KEY_LENGTH, c),
            rtcp_tag_length)
        self._rtp_trailer = bytes(tag_length)  # room that the bytes API appends
        self._rtcp_trailer = bytes(SRTCP_INDEX_LENGTH + rtcp_tag_length)
        # The in-order case of RTP (the next packet of the last stream, plain header) is the
        # transform's, where it has the fast path (protect_next and its kin: the native and the
        # micropython backends, crypto package docstring); the native backend keeps the per-SSRC
        # state in C for it (SrtpStream), the others in _Stream objects.
        stream = getattr(c, "SrtpStream", None)
        self._next = hasattr(self._rtp, "protect_next")
        self._bytes = hasattr(self._rtp, "protect_bytes")
        self._tx = _Streams(stream)
        self._rx = _Streams(stream)
        self._tx_rtcp = _Streams()
        self._rx_rtcp = _Streams()

    def wipe(self):
        """The call ended: overwrite the session keys (every backend's transform has ``wipe``;
        the native one zeroizes its C state) and drop the transforms; unusable after."""
        for t in (self._rtp, self._rtcp):
            if t is not None:
                t.wipe()
        self._rtp = self._rtcp = None

    # -- bytes in, bytes out (pylibsrtp's shape) ------------------------------------------------

    def protect(self, packet):
        """RTP -> SRTP (RFC 3711 section 3.3)."""
        s = self._tx.last
        if s is not None and self._bytes:
            out = self._rtp.protect_bytes(packet, s)  # None: not the next plain packet of s
            if out is not None:
                return out
        buf = bytearray(packet)
        buf.extend(self._rtp_trailer)
        self.protect_into(buf, len(packet))  # raises on error
        return bytes(buf)

    def unprotect(self, packet):
        """SRTP -> RTP (RFC 3711 section 3.3)."""
        s = self._rx.last
        if s is not None and self._bytes:
            out = self._rtp.unprotect_bytes(packet, s)  # None: not the fast case, or a wrong tag
            if out is not None:
                return out
        buf = bytearray(packet)
        return bytes(buf[:self.unprotect_into(buf, len(buf))])

    def protect_rtcp(self, packet):
        """RTCP (a compound packet) -> SRTCP (RFC 3711 section 3.4)."""
        buf = bytearray(packet)
        buf.extend(self._rtcp_trailer)
        r = self._protect_rtcp(buf, len(packet))
        if r < 0:
            raise error(r)
        return bytes(buf)

    def unprotect_rtcp(self, packet):
        """SRTCP -> RTCP (RFC 3711 section 3.4)."""
        buf = bytearray(packet)
        r = self._unprotect_rtcp(buf, len(buf))
        if r < 0:
            raise error(r)
        return bytes(buf[:r])

    # -- in place, for the media path -----------------------------------------------------------
    # buf is a bytearray holding a packet in buf[:length]; the new length is returned. On error:
    # with drops=None an SrtpError is raised, else the drop is counted and a negative code
    # returned. After an error on unprotect, buf[:length] is unchanged.

    @micropython.native
    def protect_into(self, buf, length, drops=None):
        """Protect the RTP packet in buf[:length]; buf needs tag_length bytes of room after it."""
        s = self._tx.last
        if s is not None and self._next:
            # the next packet of the last stream, with a plain 12-byte header: the transform
            # does it all (the Appendix A index is the highest + 1 and cannot have been used)
            n = self._rtp.protect_next(buf, length, s)  # -1: not that packet
            if n >= 0:
                return n
        r = self._protect_any(buf, length)
        if r < 0:
            self._drop(r, drops)
        return r

    @micropython.native
    def unprotect_into(self, buf, length, drops=None):
        """Unprotect the SRTP packet in buf[:length] in place; returns the RTP length."""
        s = self._rx.last
        if s is not None and self._next:
            n = self._rtp.unprotect_next(buf, length, s)  # -1: not the next plain packet of s
            if n >= 0:
                return n
            if n == -2:  # a wrong tag; buf is untouched
                self._drop(ERR_AUTH, drops)
                return ERR_AUTH
        r = self._unprotect_any(buf, length)
        if r < 0:
            self._drop(r, drops)
        return r

    def protect_rtcp_into(self, buf, length, drops=None):
        """Protect buf[:length]; buf needs 4 + rtcp_tag_length bytes of room after it."""
        return self._result(self._protect_rtcp(buf, length), drops)

    def unprotect_rtcp_into(self, buf, length, drops=None):
        return self._result(self._unprotect_rtcp(buf, length), drops)

    @staticmethod
    def _result(n, drops):
        if n < 0:
            Session._drop(n, drops)
        return n

    @staticmethod
    def _drop(n, drops):
        if drops is None:
            raise error(n)
        drops.count(n)

    # -- RFC 3711 section 3.3: SRTP --------------------------------------------------------------

    def _protect_any(self, buf, length):
        hl = _rtp.header_length(buf, length)
        if hl < 0:
            return hl
        if len(buf) < length + self.tag_length:
            return ERR_NO_ROOM
        seq = (buf[2] << 8) | buf[3]
        streams = self._tx
        s = streams.find(buf, 8)
        if s is None:
            if len(streams.by_ssrc) >= MAX_SSRCS:
                return ERR_SSRCS
            index = seq
            ssrc = _ssrc(buf, 8)
        else:
            # The sender estimates its index like a receiver (libsrtp does too), so that RTP
            # handed over out of order still gets the right ROC; it never reuses an index.
            index = estimate_index(s.highest, seq)
            seen = s.check(index)
            if seen:
                return ERR_INDEX_USED if seen == 1 else ERR_INDEX_TOO_OLD
            ssrc = s.ssrc
        n = self._rtp.protect(buf, hl, length, length, ssrc, index, index >> 16)
        if s is None:
            streams.add(buf, 8, ssrc, index)
        else:
            s.add(index)
        return n

    def _unprotect_any(self, buf, length):
        tag = self.tag_length
        if length < _rtp.RTP_HEADER_LENGTH + tag:
            return ERR_SRTP_SHORT
        auth_end = length - tag
        seq = (buf[2] << 8) | buf[3]
        s = self._rx.find(buf, 8)
        if s is None:
            index = seq  # RFC 3711 section 3.3.1: a new SSRC starts with ROC 0
            ssrc = _ssrc(buf, 8)
            code = ERR_SSRCS if len(self._rx.by_ssrc) >= MAX_SSRCS else 0
        else:
            index = estimate_index(s.highest, seq)
            ssrc = s.ssrc
            code = s.check(index)
            if code:
                code = ERR_REPLAY if code == 1 else ERR_TOO_OLD
        hl = _rtp.header_length(buf, auth_end)
        if hl < 0:
            code = hl
        transform = self._rtp
        if code:
            # Report what is wrong only for a packet that authenticates: a flipped bit always
            # reads as an authentication failure, never as a replay or a bad header.
            if not transform.unprotect(buf, 0, 0, auth_end, ssrc, index, index >> 16):
                return ERR_AUTH
            return code
        if not transform.unprotect(buf, hl, auth_end, auth_end, ssrc, index, index >> 16):
            return ERR_AUTH
        # RFC 3711 section 3.3.1: ROC, s_l and the window change only after authentication.
        if s is None:
            self._rx.add(buf, 8, ssrc, index)
        else:
            s.add(index)
        return auth_end

    # -- RFC 3711 section 3.4: SRTCP --------------------------------------------------------------

    def _protect_rtcp(self, buf, length):
        if length < _rtp.RTCP_SSRC_HEADER_LENGTH:
            return ERR_RTCP_SHORT
        if buf[0] >> 6 != _rtp.RTP_VERSION:
            return ERR_RTCP_VERSION
        if len(buf) < length + SRTCP_INDEX_LENGTH + self.rtcp_tag_length:
            return ERR_NO_ROOM
        streams = self._tx_rtcp
        s = streams.find(buf, 4)
        if s is None:
            if len(streams.by_ssrc) >= MAX_SSRCS:
                return ERR_SSRCS
            ssrc = _ssrc(buf, 4)
            s = streams.add(buf, 4, ssrc, 0)
        index = s.next  # RFC 3711 section 3.4: zero for the first packet, then + 1
        if index > SRTCP_INDEX_MAX:
            return ERR_RTCP_INDEX_EXHAUSTED
        s.next = index + 1
        # The E flag (always set: we encrypt) and the 31-bit SRTCP index, big-endian.
        buf[length] = 0x80 | (index >> 24)
        buf[length + 1] = (index >> 16) & 0xFF
        buf[length + 2] = (index >> 8) & 0xFF
        buf[length + 3] = index & 0xFF
        return self._rtcp.protect(buf, _rtp.RTCP_SSRC_HEADER_LENGTH, length,
                                  length + SRTCP_INDEX_LENGTH, s.ssrc, index, -1)

    def _unprotect_rtcp(self, buf, length):
        if length < _rtp.RTCP_SSRC_HEADER_LENGTH + SRTCP_INDEX_LENGTH + self.rtcp_tag_length:
            return ERR_SRTCP_SHORT
        end = length - self.rtcp_tag_length - SRTCP_INDEX_LENGTH
        encrypted = buf[end] & 0x80
        index = ((buf[end] & 0x7F) << 24) | (buf[end + 1] << 16) | (buf[end + 2] << 8) | buf[end + 3]
        s = self._rx_rtcp.find(buf, 4)
        code = 0
        if s is None:
            ssrc = _ssrc(buf, 4)
            if len(self._rx_rtcp.by_ssrc) >= MAX_SSRCS:
                code = ERR_SSRCS
        else:
            ssrc = s.ssrc
            code = s.check(index)
            if code:
                code = ERR_RTCP_REPLAY if code == 1 else ERR_RTCP_TOO_OLD
        transform = self._rtcp
        auth_end = end + SRTCP_INDEX_LENGTH
        if code:
            if not transform.unprotect(buf, 0, 0, auth_end, ssrc, index, -1):
                return ERR_RTCP_AUTH
            return code
        # E clear: the sender did not encrypt (RFC 3711 section 3.4); it is still authenticated.
        enc_end = end if encrypted else _rtp.RTCP_SSRC_HEADER_LENGTH
        if not transform.unprotect(buf, _rtp.RTCP_SSRC_HEADER_LENGTH, enc_end, auth_end, ssrc,
                                   index, -1):
            return ERR_RTCP_AUTH
        if s is None:
            self._rx_rtcp.add(buf, 4, ssrc, index)
        else:
            s.add(index)
        return end
