"""ZRTP key derivation (RFC 6189 sections 4.4 to 4.6 and 9).

The hash chain H0..H3, the Hello/Commit/DHPart MACs and the Hello hash always use SHA-256 (the
"implicit hash", section 5.1.2). hvi, total_hash, s0 and the KDF use the negotiated hash.

    KDF(KI, Label, Context, L) = HMAC(KI, 0x00000001 || Label || 0x00 || Context || L)   (section 4.5.1)

with L the output length in bits as a 32-bit big-endian integer, the output truncated to L bits.
"""
from zerotap import crypto

RETAINED_SECRET_LENGTH = 32  # rs1, rs2: 256 bits (section 4.6.1)
SRTP_SALT_LENGTH = 14  # 112 bits (section 4.5.3)
SAS_HASH_LENGTH = 32  # 256 bits (section 4.5.2)
COUNTER = b"\x00\x00\x00\x01"


def _be32(v):
    return bytes(((v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF))


def kdf(hmac, key, label, context, length):
    """KDF(KEY, LABEL, CONTEXT, LENGTH bytes) with HMAC, the negotiated HMAC (section 4.5.1)."""
    if isinstance(label, str):
        label = label.encode()
    return hmac(key, COUNTER + label + b"\x00" + context + _be32(length * 8))[:length]


def hash_chain(h0):
    """[H0, H1, H2, H3] with H(i+1) = SHA-256(Hi) (section 9)."""
    if len(h0) != 32:
        raise ValueError("H0 must be 32 bytes, got %d" % len(h0))
    chain = [bytes(h0)]
    for _ in range(3):
        chain.append(crypto.sha256(chain[-1]))
    return chain


def hello_hash(hello_message):
    """SHA-256 of the Hello message (no packet header, no CRC): the SDP ``a=zrtp-hash`` (section 8.1)."""
    return crypto.sha256(hello_message)


def hvi(hash, dhpart2, responder_hello):
    """hvi = hash(initiator's DHPart2 || responder's Hello), truncated to 256 bits (section 4.4.1.1)."""
    return hash.hash(dhpart2 + responder_hello)[:32]


def rs_id(hmac, secret, label):
    """The 64-bit ID of a shared secret: MAC(secret, "Initiator"/"Responder") (section 4.3.1)."""
    return hmac(secret, label)[:8]


def select_s1(hmac, rs1, rs2, peer_rs1_id, peer_rs2_id, peer_label):
    """s1 for s0: our rs1 if the peer has it, else our rs2 if the peer has it, else None (section 4.3).

    PEER_LABEL is the label the peer made its IDs with (b"Responder" when we are the initiator).
    Returns ``(s1, matched)``: MATCHED is False when we had a secret the peer does not have.
    Both sides take the initiator's first secret the responder has (the initiator's rs1 before
    its rs2, as bzrtp): when each side's rs1 is the other's rs2, "our rs1 first" on both sides
    would pick two different secrets."""
    ids = [(rs, rs_id(hmac, rs, peer_label)) for rs in (rs1, rs2) if rs is not None]
    if peer_label == b"Responder":  # we initiate: our own order
        for rs, i in ids:
            if i == peer_rs1_id or i == peer_rs2_id:
                return rs, True
    else:  # we respond: the initiator's order
        for pid in (peer_rs1_id, peer_rs2_id):
            for rs, i in ids:
                if i == pid:
                    return rs, True
    return None, False


def total_hash(hash, responder_hello, commit, dhpart1=b"", dhpart2=b""):
    """hash(Hello of responder || Commit || DHPart1 || DHPart2), messages without packet header
    and CRC (section 4.4.1.4); multistream leaves out the DHParts (section 4.4.3.2)."""
    return hash.hash(responder_hello + commit + dhpart1 + dhpart2)


def kdf_context(zidi, zidr, total):
    """KDF_Context = ZIDi || ZIDr || total_hash (section 4.4.1.4)."""
    return zidi + zidr + total


def wipe(buf):
    """Overwrite a bytearray with zeros (bytes cannot be: the interpreter gives no way)."""
    if isinstance(buf, bytearray):
        for i in range(len(buf)):
            buf[i] = 0


def s0_dh(hash, dh_result, context, s1=None, s2=None, s3=None):
    """s0 = hash(counter || DHResult || "ZRTP-HMAC-KDF" || ZIDi || ZIDr || total_hash ||
    len(s1) || s1 || len(s2) || s2 || len(s3) || s3) (section 4.4.1.4); CONTEXT is KDF_Context."""
    parts = [COUNTER, dh_result, b"ZRTP-HMAC-KDF", context]
    for s in (s1, s2, s3):
        if s is None:
            parts.append(b"\x00\x00\x00\x00")
        else:
            parts.append(_be32(len(s)))
            parts.append(s)
    return bytearray(hash.hash(b"".join(parts)))  # wiped by Keys.steps once the keys exist


def s0_multistream(hash, zrtp_sess, context):
    """s0 = KDF(ZRTPSess, "ZRTP MSK", KDF_Context, hash length) (section 4.4.3.2)."""
    return bytearray(kdf(hash.hmac, zrtp_sess, b"ZRTP MSK", context, hash.length))


_SECRETS = ("mackeyi", "mackeyr", "zrtpkeyi", "zrtpkeyr", "srtp_key_i", "srtp_salt_i", "srtp_key_r", "srtp_salt_r",
            "sas_hash", "zrtp_sess", "new_rs1")


class Keys:
    """Everything derived from s0 for one stream (sections 4.5.2, 4.5.3, 4.6.1).

    Attributes: mackeyi, mackeyr, zrtpkeyi, zrtpkeyr (for Confirm and SASrelay), srtp_key_i,
    srtp_salt_i, srtp_key_r, srtp_salt_r, and for a DH exchange sas_hash, sas_value,
    zrtp_sess and new_rs1, each a bytearray that :meth:`wipe` overwrites when the call ends.
    s0 itself is not kept: ``steps`` overwrites it (when it is a bytearray) once it is done.

    ``Keys(hash, cipher_key_length, s0, context)`` derives everything at once; ``Keys()`` then
    ``steps(...)`` does it one KDF per iteration, for callers that must not block (a SHA-384 KDF
    in pure MicroPython takes milliseconds on the unix port, far more on a board)."""

    def __init__(self, hash=None, cipher_key_length=0, s0=None, context=None, multistream=False):
        self.mackeyi = self.mackeyr = self.zrtpkeyi = self.zrtpkeyr = None
        self.srtp_key_i = self.srtp_salt_i = self.srtp_key_r = self.srtp_salt_r = None
        self.sas_hash = self.sas_value = self.zrtp_sess = self.new_rs1 = None
        if hash is not None:
            for _ in self.steps(hash, cipher_key_length, s0, context, multistream):
                pass

    def steps(self, hash, cipher_key_length, s0, context, multistream=False):
        """A generator: one KDF per step; the attributes are set when it ends."""
        h = hash.hmac
        n = hash.length
        self.mackeyi = kdf(h, s0, b"Initiator HMAC key", context, n)
        yield
        self.mackeyr = kdf(h, s0, b"Responder HMAC key", context, n)
        yield
        self.zrtpkeyi = kdf(h, s0, b"Initiator ZRTP key", context, cipher_key_length)
        yield
        self.zrtpkeyr = kdf(h, s0, b"Responder ZRTP key", context, cipher_key_length)
        yield
        self.srtp_key_i = kdf(h, s0, b"Initiator SRTP master key", context, cipher_key_length)
        yield
        self.srtp_salt_i = kdf(h, s0, b"Initiator SRTP master salt", context, SRTP_SALT_LENGTH)
        yield
        self.srtp_key_r = kdf(h, s0, b"Responder SRTP master key", context, cipher_key_length)
        yield
        self.srtp_salt_r = kdf(h, s0, b"Responder SRTP master salt", context, SRTP_SALT_LENGTH)
        if multistream:
            self._own()
            wipe(s0)
            return
        yield
        self.sas_hash = kdf(h, s0, b"SAS", context, SAS_HASH_LENGTH)
        self.sas_value = self.sas_hash[:4]
        yield
        self.zrtp_sess = kdf(h, s0, b"ZRTP Session Key", context, n)
        yield
        self.new_rs1 = kdf(h, s0, b"retained secret", context, RETAINED_SECRET_LENGTH)
        self._own()
        wipe(s0)

    def _own(self):
        for name in _SECRETS:
            v = getattr(self, name)
            if v is not None and not isinstance(v, bytearray):
                setattr(self, name, bytearray(v))
        if self.sas_hash is not None:
            self.sas_value = bytes(self.sas_hash[:4])

    def wipe(self):
        """Overwrite every derived key (the call ended)."""
        for name in _SECRETS:
            wipe(getattr(self, name))
