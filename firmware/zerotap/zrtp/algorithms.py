"""ZRTP algorithm names, their properties, and the choice from two Hellos (RFC 6189 section 5.1).

Names appear on the wire as 4-byte blocks (``b"S256"``, ``b"B32 "``); people and the status model
use them without padding (``"S256"``, ``"B32"``). Curve25519 is ``X255`` in bzrtp and ``E255`` in
GNU ZRTP; both names map onto the crypto contract's ``"X255"``.
"""
from zerotap import crypto

# RFC 6189 section 5.1.2: hash; ZRTP uses it for hvi, total_hash, s0, and its HMAC for the KDF.
HASHES = (b"S256", b"S384")
# Section 5.1.3: cipher for Confirm/SASrelay (CFB) and SRTP (counter mode); value: key length.
CIPHERS = {b"AES1": 16, b"AES3": 32}
# Section 5.1.4: SRTP authentication tag; value: tag length in bytes.
AUTH_TAGS = {b"HS32": 4, b"HS80": 10}
# Section 5.1.5: key agreement; value: the crypto contract's name.
KEY_AGREEMENTS = {b"DH2k": "DH2k", b"DH3k": "DH3k", b"EC25": "EC25", b"EC38": "EC38", b"X255": "X255",
                  b"E255": "X255"}
MULTISTREAM = b"Mult"
PRESHARED = b"Prsh"
# Section 5.1.6: SAS rendering.
SAS_TYPES = (b"B32 ", b"B256")

# Mandatory to implement (section 5.1): implied in every Hello even when it does not list them.
MANDATORY_HASH = (b"S256",)
MANDATORY_CIPHER = (b"AES1",)
MANDATORY_AUTH_TAG = (b"HS32", b"HS80")
MANDATORY_KEY_AGREEMENT = (b"DH3k",)
MANDATORY_SAS = (b"B32 ",)

# When the two Hellos' first choices differ, the faster one wins (section 4.1.2); this order is
# bzrtp's and GNU ZRTP's: DH2k, the 255-bit curve, P-256, DH3k, P-384.
_SPEED = (b"DH2k", b"X255", b"E255", b"EC25", b"DH3k", b"EC38")

# Our default offer, in order of preference: the one place for it (CONFIG.json's ``zrtp`` keys
# default to these, see zerotap.config). DH3k stays in for Linphone.
DEFAULT_HASHES = ("S256",)
DEFAULT_CIPHERS = ("AES1", "AES3")
DEFAULT_AUTH_TAGS = ("HS80", "HS32")
DEFAULT_KEY_AGREEMENTS = ("X255", "E255", "EC25", "DH3k")
DEFAULT_SAS_TYPES = ("B32", "B256")

# CONFIG.json's ``zrtp`` families, in the order the config checks them.
FAMILIES = ("key_agreement", "cipher", "hash", "auth", "sas")

# SRTP profile names (RFC 4568, RFC 6188), as zerotap.srtp names them.
PROFILES = {
    (b"AES1", b"HS80"): "AES_CM_128_HMAC_SHA1_80",
    (b"AES1", b"HS32"): "AES_CM_128_HMAC_SHA1_32",
    (b"AES3", b"HS80"): "AES_256_CM_HMAC_SHA1_80",
    (b"AES3", b"HS32"): "AES_256_CM_HMAC_SHA1_32",
}


def wire(name):
    """The 4-byte wire block for NAME (``"B32"`` -> ``b"B32 "``)."""
    if isinstance(name, str):
        name = name.encode()
    if not 1 <= len(name) <= 4:
        raise ValueError("bad ZRTP algorithm name %r" % (name,))
    return name + b" " * (4 - len(name))


def text(block):
    """The readable name of a wire block (``b"B32 "`` -> ``"B32"``)."""
    return bytes(block).decode().rstrip()


class Hash:
    """A negotiated hash: the function, its HMAC and its length."""

    def __init__(self, name):
        if name == b"S256":
            self.hash, self.hmac, self.length = crypto.sha256, crypto.hmac_sha256, 32
        elif name == b"S384":
            self.hash, self.hmac, self.length = crypto.sha384, crypto.hmac_sha384, 48
        else:
            raise ValueError("unsupported ZRTP hash %r" % (name,))
        self.name = name


def profile(cipher, auth_tag):
    """The SRTP profile name for a cipher and an auth tag (wire blocks)."""
    return PROFILES[(cipher, auth_tag)]


def _names(values, known, family):
    out = []
    for v in values:
        w = wire(v)
        if w not in known:
            raise ValueError("unknown ZRTP %s %r" % (family, text(w)))
        if w not in out:
            out.append(w)
    if not out:
        raise ValueError("no ZRTP %s configured" % family)
    return out


class Offer:
    """What we put in our Hello, in our order of preference.

    Names are given without padding. At most 7 per family. ``multistream`` adds Mult at the end
    of the key agreements (then at most 6 others): only for a caller that runs second streams
    (``Engine.new_stream``). The box runs one audio stream, so it does not offer Mult, and a
    Commit for it is refused (issue 12: say only what the box does).

    The offer is also the policy when we answer a Commit: :func:`check_commit` takes what is
    listed here and the RFC's mandatory algorithms, which every Hello offers whether it lists
    them or not (RFC 6189 section 5.2); :func:`choose` ranks them after the listed ones."""

    def __init__(self, hashes=DEFAULT_HASHES, ciphers=DEFAULT_CIPHERS, auth_tags=DEFAULT_AUTH_TAGS,
                 key_agreements=DEFAULT_KEY_AGREEMENTS, sas_types=DEFAULT_SAS_TYPES, multistream=False):
        self.multistream = bool(multistream)
        self.hashes = _names(hashes, HASHES, "hash")
        self.ciphers = _names(ciphers, CIPHERS, "cipher")
        self.auth_tags = _names(auth_tags, AUTH_TAGS, "auth tag")
        self.key_agreements = _names(key_agreements, KEY_AGREEMENTS, "key agreement")
        self.sas_types = _names(sas_types, SAS_TYPES, "SAS type")
        for family, names in (("hashes", self.hashes), ("ciphers", self.ciphers), ("auth tags", self.auth_tags),
                              ("SAS types", self.sas_types)):
            if len(names) > 7:
                raise ValueError("at most 7 ZRTP %s, got %d" % (family, len(names)))
        if len(self.key_agreements) > (6 if multistream else 7):
            if multistream:
                raise ValueError("at most 6 ZRTP key agreements (Mult is the 7th), got %d" % len(self.key_agreements))
            raise ValueError("at most 7 ZRTP key agreements, got %d" % len(self.key_agreements))

    @property
    def hello_key_agreements(self):
        return self.key_agreements + [MULTISTREAM] if self.multistream else list(self.key_agreements)

    def crypto_names(self):
        """The crypto contract's names of our key agreements, in order, without repeats."""
        out = []
        for ka in self.key_agreements:
            n = KEY_AGREEMENTS[ka]
            if n not in out:
                out.append(n)
        return out


def _with_mandatory(names, mandatory):
    out = list(names)
    for m in mandatory:
        if m not in out:
            out.append(m)
    return out


def _common(master, other):
    return [n for n in master if n in other]


class Choice:
    """The algorithms of one exchange (what a Commit carries)."""

    def __init__(self, hash, cipher, auth_tag, key_agreement, sas):
        self.hash = hash
        self.cipher = cipher
        self.auth_tag = auth_tag
        self.key_agreement = key_agreement
        self.sas = sas

    def names(self):
        return {"hash": text(self.hash), "cipher": text(self.cipher), "auth": text(self.auth_tag),
                "ka": text(self.key_agreement), "sas_type": text(self.sas)}


class NoCommonAlgorithm(ValueError):
    """The two Hellos share no algorithm of one family; ``code`` is the RFC 6189 error code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def choose(offer, hello):
    """The Choice for a DH exchange, as an initiator would commit it (RFC 6189 section 4.1.2).

    HELLO is the peer's parsed Hello; the mandatory algorithms are implied in its lists."""
    peer_kas = [k for k in _with_mandatory(hello.key_agreements, MANDATORY_KEY_AGREEMENT) if k in KEY_AGREEMENTS]
    our_kas = _with_mandatory(offer.key_agreements, MANDATORY_KEY_AGREEMENT)
    ours = _common(our_kas, peer_kas)
    theirs = _common(peer_kas, our_kas)
    if not ours:
        raise NoCommonAlgorithm(0x53, "no common ZRTP key agreement")
    if ours[0] == theirs[0]:
        ka = ours[0]
    else:
        ka = ours[0] if _SPEED.index(ours[0]) <= _SPEED.index(theirs[0]) else theirs[0]
    hashes = _common(_with_mandatory(offer.hashes, MANDATORY_HASH), _with_mandatory(hello.hashes, MANDATORY_HASH))
    ciphers = _common(_with_mandatory(offer.ciphers, MANDATORY_CIPHER),
                      _with_mandatory(hello.ciphers, MANDATORY_CIPHER))
    tags = _common(_with_mandatory(offer.auth_tags, MANDATORY_AUTH_TAG),
                   _with_mandatory(hello.auth_tags, MANDATORY_AUTH_TAG))
    sas = _common(_with_mandatory(offer.sas_types, MANDATORY_SAS), _with_mandatory(hello.sas_types, MANDATORY_SAS))
    for code, family, names in ((0x51, "hash", hashes), (0x52, "cipher", ciphers), (0x54, "auth tag", tags),
                                (0x55, "SAS type", sas)):
        if not names:
            raise NoCommonAlgorithm(code, "no common ZRTP %s" % family)
    hash_ = hashes[0]
    cipher = ciphers[0]
    if ka == b"EC38":  # section 5.1.5: P-384 goes with SHA-384 and AES-256 when both have them
        if b"S384" in hashes:
            hash_ = b"S384"
        if b"AES3" in ciphers:
            cipher = b"AES3"
    return Choice(hash_, cipher, tags[0], ka, sas[0])


def check_commit(offer, commit):
    """The Choice a peer's Commit made, after checking that our Hello offered every part of it:
    the configured lists and the mandatory algorithms (section 5.1), which every Hello offers
    whether it lists them or not (section 5.2: "Mandatory algorithms MAY be included in the
    algorithm list"; bzrtp adds them to every Hello it reads, and commits them).

    Raises NoCommonAlgorithm with the RFC 6189 error code for the first part outside it."""
    ka = commit.key_agreement
    for code, family, key, value, ours, mandatory in (
            (0x51, "hash", "hash", commit.hash, offer.hashes, MANDATORY_HASH),
            (0x52, "cipher", "cipher", commit.cipher, offer.ciphers, MANDATORY_CIPHER),
            (0x54, "auth tag", "auth", commit.auth_tag, offer.auth_tags, MANDATORY_AUTH_TAG),
            (0x55, "SAS type", "sas", commit.sas, offer.sas_types, MANDATORY_SAS),
            (0x53, "key agreement", "key_agreement", ka, offer.hello_key_agreements, MANDATORY_KEY_AGREEMENT)):
        if value not in ours and value not in mandatory:
            if value == MULTISTREAM:
                raise NoCommonAlgorithm(code, "Commit chose multistream (Mult), which the box does not run")
            try:
                value = text(value)
            except Exception:  # not text: say so as bytes
                pass
            raise NoCommonAlgorithm(code, "Commit chose %s %s, which zrtp.%s does not list" % (family, value, key))
    return Choice(commit.hash, commit.cipher, commit.auth_tag, ka, commit.sas)


def _readable(blocks):
    return tuple(text(b) for b in blocks)


# CONFIG.json's ``zrtp`` families: the names each accepts (Mult as a key agreement is accepted and
# left out of the offer: it is always the last) and our default order.
NAMES = {
    "key_agreement": ("DH3k", "DH2k", "EC25", "EC38", "X255", "E255", text(MULTISTREAM)),
    "cipher": _readable(sorted(CIPHERS)),
    "hash": _readable(HASHES),
    "auth": _readable(sorted(AUTH_TAGS)),
    "sas": _readable(SAS_TYPES),
}
DEFAULTS = {
    "key_agreement": DEFAULT_KEY_AGREEMENTS,
    "cipher": DEFAULT_CIPHERS,
    "hash": DEFAULT_HASHES,
    "auth": DEFAULT_AUTH_TAGS,
    "sas": DEFAULT_SAS_TYPES,
}
