"""Debian's libbzrtp (bzrtp 5.1.64, Belledonne's ZRTP) in-process through ctypes: a ZRTP oracle.

bzrtp is GPL and is only loaded by tests; nothing of it ships. Struct layouts and callback
signatures follow bzrtp 5.1.64's public header ``include/bzrtp/bzrtp.h``.

A :class:`BzrtpContext` is one bzrtp ZRTP session (one ZID, optionally a sqlite ZID cache). Its
first :class:`BzrtpChannel` is the DH stream; :meth:`BzrtpContext.add_channel` adds a multistream
channel once the first one is secure. A channel is driven like our engine, on a simulated clock:

    ctx = BzrtpContext(0x1234, key_agreements=["DH3k"])
    ch = ctx.main
    ch.start(now_ms)
    ch.iterate(now_ms)              # timers: retransmissions
    ch.receive(packet)              # returns bzrtp's result code (0 = accepted)
    for datagram in ch.take_outbox(): ...
    ch.secure, ch.sas, ch.verified, ch.secrets   # once bzrtp called startSrtpSession

bzrtp calls back synchronously from inside ``processMessage``/``iterate``: sends go to the
channel's outbox, SRTP secrets and the SAS are copied out of bzrtp's structures on the spot.
"""
import ctypes
import ctypes.util
import os

import hostenv

LIB_NAME = "libbzrtp.so.0"
PACKAGE = "libbzrtp0 (Debian)"

# bzrtp.h: algorithm families and codes
HASH_TYPE, CIPHERBLOCK_TYPE, AUTHTAG_TYPE, KEYAGREEMENT_TYPE, SAS_TYPE = 0x01, 0x02, 0x04, 0x08, 0x10
CODES = {
    HASH_TYPE: {"S256": 0x11, "S384": 0x12},
    CIPHERBLOCK_TYPE: {"AES1": 0x21, "AES3": 0x23},
    AUTHTAG_TYPE: {"HS32": 0x31, "HS80": 0x32},
    KEYAGREEMENT_TYPE: {"DH2k": 0x41, "X255": 0x42, "EC25": 0x43, "X448": 0x44, "DH3k": 0x45,
                        "EC38": 0x46, "Mult": 0x4F},
    SAS_TYPE: {"B32": 0x51, "B256": 0x52},
}
NAMES = {code: name for table in CODES.values() for name, code in table.items()}

ROLE_INITIATOR, ROLE_RESPONDER = 0, 1
SRTP_SECRETS_FOR_SENDER, SRTP_SECRETS_FOR_RECEIVER = 0x01, 0x02
MESSAGE_ERROR = 0x00
MESSAGE_CACHEMISMATCH = 0x01
CHANNEL_SECURE = 0x1004
CACHE_SETUP = 0x2000
ERROR_HELLOHASH_MISMATCH = 0x0080


class SrtpSecrets(ctypes.Structure):
    """bzrtpSrtpSecrets_t (bzrtp.h, 5.1.64)."""

    _fields_ = [
        ("selfSrtpKey", ctypes.POINTER(ctypes.c_uint8)),
        ("selfSrtpKeyLength", ctypes.c_uint8),
        ("selfSrtpSalt", ctypes.POINTER(ctypes.c_uint8)),
        ("selfSrtpSaltLength", ctypes.c_uint8),
        ("peerSrtpKey", ctypes.POINTER(ctypes.c_uint8)),
        ("peerSrtpKeyLength", ctypes.c_uint8),
        ("peerSrtpSalt", ctypes.POINTER(ctypes.c_uint8)),
        ("peerSrtpSaltLength", ctypes.c_uint8),
        ("cipherAlgo", ctypes.c_uint8),
        ("cipherKeyLength", ctypes.c_uint8),
        ("authTagAlgo", ctypes.c_uint8),
        ("sas", ctypes.c_char_p),
        ("sasLength", ctypes.c_uint8),
        ("hashAlgo", ctypes.c_uint8),
        ("keyAgreementAlgo", ctypes.c_uint8),
        ("sasAlgo", ctypes.c_uint8),
        ("cacheMismatch", ctypes.c_uint8),
        ("auxSecretMismatch", ctypes.c_uint8),
    ]


STATUS_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint8, ctypes.c_char_p)
SEND_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_uint16)
SECRETS_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(SrtpSecrets), ctypes.c_uint8)
START_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(SrtpSecrets), ctypes.c_int32)
EXPORT_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint8)


class Callbacks(ctypes.Structure):
    """bzrtpCallbacks_t (bzrtp.h, 5.1.64)."""

    _fields_ = [
        ("bzrtp_statusMessage", STATUS_CB),
        ("bzrtp_messageLevel", ctypes.c_int),
        ("bzrtp_sendData", SEND_CB),
        ("bzrtp_srtpSecretsAvailable", SECRETS_CB),
        ("bzrtp_startSrtpSession", START_CB),
        ("bzrtp_contextReadyForExportedKeys", EXPORT_CB),
    ]


_lib = None
_sqlite = None


def lib():
    """The loaded libbzrtp.so.0 with its prototypes; fails the test naming the package if absent."""
    global _lib
    if _lib is not None:
        return _lib
    try:
        L = ctypes.CDLL(LIB_NAME)
    except OSError as e:
        import pytest

        pytest.fail("%s is missing (%s): install %s" % (LIB_NAME, e, PACKAGE), pytrace=False)
    vp, u8, u16, u32, i32 = ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_int
    protos = {
        "bzrtp_createBzrtpContext": (vp, []),
        "bzrtp_initBzrtpContext": (i32, [vp, u32]),
        "bzrtp_destroyBzrtpContext": (i32, [vp, u32]),
        "bzrtp_setCallbacks": (i32, [vp, ctypes.POINTER(Callbacks)]),
        "bzrtp_setZIDCache": (i32, [vp, vp, ctypes.c_char_p, ctypes.c_char_p]),
        "bzrtp_setClientData": (i32, [vp, u32, vp]),
        "bzrtp_addChannel": (i32, [vp, u32]),
        "bzrtp_startChannelEngine": (i32, [vp, u32]),
        "bzrtp_iterate": (i32, [vp, u32, ctypes.c_uint64]),
        "bzrtp_processMessage": (i32, [vp, u32, ctypes.POINTER(u8), u16]),
        "bzrtp_SASVerified": (None, [vp]),
        "bzrtp_resetSASVerified": (None, [vp]),
        "bzrtp_setSupportedCryptoTypes": (None, [vp, u8, ctypes.POINTER(u8), u8]),
        "bzrtp_getSupportedCryptoTypes": (u8, [vp, u8, ctypes.POINTER(u8)]),
        "bzrtp_setPeerHelloHash": (i32, [vp, u32, ctypes.c_char_p, ctypes.c_size_t]),
        "bzrtp_getSelfHelloHash": (i32, [vp, u32, ctypes.c_char_p, ctypes.c_size_t]),
        "bzrtp_getChannelStatus": (i32, [vp, u32]),
        "bzrtp_base32": (None, [u32, ctypes.c_char_p, i32]),
        "bzrtp_base256": (None, [u32, ctypes.c_char_p, i32]),
        "bzrtp_CRC32": (u32, [ctypes.POINTER(u8), u16]),
    }
    for name, (res, args) in protos.items():
        f = getattr(L, name)
        f.restype = res
        f.argtypes = args
    _lib = L
    return L


def sqlite():
    global _sqlite
    if _sqlite is None:
        path = ctypes.util.find_library("sqlite3") or "libsqlite3.so.0"
        S = ctypes.CDLL(path)
        S.sqlite3_open.restype = ctypes.c_int
        S.sqlite3_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        S.sqlite3_close.restype = ctypes.c_int
        S.sqlite3_close.argtypes = [ctypes.c_void_p]
        _sqlite = S
    return _sqlite


def base32(sas_value):
    """bzrtp's B32 rendering of a 32-bit sasvalue."""
    out = ctypes.create_string_buffer(8)
    lib().bzrtp_base32(sas_value & 0xFFFFFFFF, out, 8)
    return out.value.decode()


def base256(sas_value):
    """bzrtp's B256 rendering of a 32-bit sasvalue ("even:odd")."""
    out = ctypes.create_string_buffer(64)
    lib().bzrtp_base256(sas_value & 0xFFFFFFFF, out, 64)
    return out.value.decode()


def crc32(data):
    """bzrtp_CRC32: the value bzrtp writes big-endian into the packet's CRC field."""
    buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    return lib().bzrtp_CRC32(buf, len(data))


def _bytes(ptr, length):
    return bytes(ptr[:length]) if ptr and length else b""


class BzrtpChannel:
    """One bzrtp channel (one media stream, identified by our own SSRC)."""

    def __init__(self, ctx, ssrc):
        self.ctx = ctx
        self.ssrc = ssrc
        self.outbox = []
        self.secure = False
        self.sas = None
        self.verified = None
        self.secrets = None  # dict, filled by startSrtpSession
        self.receiver_secrets = None  # dict, filled when bzrtp hands out receiver keys
        self.sender_secrets = None
        self.cache_mismatch = False
        self.results = []  # processMessage return codes

    def start(self, now_ms=0):
        rc = lib().bzrtp_startChannelEngine(self.ctx.ptr, self.ssrc)
        if rc:
            raise RuntimeError("bzrtp_startChannelEngine failed: 0x%x" % rc)
        self.iterate(now_ms)

    def iterate(self, now_ms):
        return lib().bzrtp_iterate(self.ctx.ptr, self.ssrc, int(now_ms))

    def receive(self, packet):
        packet = bytes(packet)
        buf = (ctypes.c_uint8 * max(1, len(packet))).from_buffer_copy(packet or b"\0")
        rc = lib().bzrtp_processMessage(self.ctx.ptr, self.ssrc, buf, len(packet))
        self.results.append(rc)
        return rc

    def take_outbox(self):
        out, self.outbox = self.outbox, []
        return out

    def hello_hash(self):
        out = ctypes.create_string_buffer(80)
        rc = lib().bzrtp_getSelfHelloHash(self.ctx.ptr, self.ssrc, out, 80)
        if rc:
            raise RuntimeError("bzrtp_getSelfHelloHash failed: 0x%x" % rc)
        return out.value.decode()

    def set_peer_hello_hash(self, text):
        raw = text.encode()
        return lib().bzrtp_setPeerHelloHash(self.ctx.ptr, self.ssrc, raw, len(raw))

    def status(self):
        return lib().bzrtp_getChannelStatus(self.ctx.ptr, self.ssrc)

    # --- callbacks (called by BzrtpContext) ---
    def _on_secrets(self, s, part):
        d = _secrets_dict(s)
        if part & SRTP_SECRETS_FOR_RECEIVER:
            self.receiver_secrets = d
        if part & SRTP_SECRETS_FOR_SENDER:
            self.sender_secrets = d

    def _on_start(self, s, verified):
        self.secrets = _secrets_dict(s)
        self.sas = self.secrets["sas"]
        self.verified = bool(verified)
        self.cache_mismatch = bool(self.secrets["cache_mismatch"])
        self.secure = True


def _secrets_dict(s):
    return {
        "self_key": _bytes(s.selfSrtpKey, s.selfSrtpKeyLength),
        "self_salt": _bytes(s.selfSrtpSalt, s.selfSrtpSaltLength),
        "peer_key": _bytes(s.peerSrtpKey, s.peerSrtpKeyLength),
        "peer_salt": _bytes(s.peerSrtpSalt, s.peerSrtpSaltLength),
        "cipher": NAMES.get(s.cipherAlgo),
        "auth": NAMES.get(s.authTagAlgo),
        "hash": NAMES.get(s.hashAlgo),
        "ka": NAMES.get(s.keyAgreementAlgo),
        "sas_type": NAMES.get(s.sasAlgo),
        "sas": s.sas.decode() if s.sas else None,
        "cache_mismatch": s.cacheMismatch,
    }


class BzrtpContext:
    """One bzrtp ZRTP session: a ZID, its (optional) sqlite cache, and up to two channels."""

    def __init__(self, ssrc, hashes=None, ciphers=None, auth_tags=None, key_agreements=None, sas_types=None,
                 cache_path=None, self_uri="sip:bzrtp@127.0.0.1", peer_uri="sip:zerotap@127.0.0.1"):
        L = lib()
        self.ptr = L.bzrtp_createBzrtpContext()
        if not self.ptr:
            raise RuntimeError("bzrtp_createBzrtpContext failed")
        self.channels = {}
        self.status_messages = []
        self._db = None
        if cache_path is not None:
            db = ctypes.c_void_p()
            if sqlite().sqlite3_open(os.fsencode(cache_path), ctypes.byref(db)):
                raise RuntimeError("sqlite3_open failed for %s" % cache_path)
            self._db = db
            rc = L.bzrtp_setZIDCache(self.ptr, db, self_uri.encode(), peer_uri.encode())
            if rc not in (0, CACHE_SETUP):
                raise RuntimeError("bzrtp_setZIDCache failed: 0x%x" % rc)
        self._cbs_keep = [
            STATUS_CB(self._status), SEND_CB(self._send), SECRETS_CB(self._secrets), START_CB(self._start),
            EXPORT_CB(0),
        ]
        cbs = Callbacks()
        cbs.bzrtp_statusMessage = self._cbs_keep[0]
        cbs.bzrtp_messageLevel = 3
        cbs.bzrtp_sendData = self._cbs_keep[1]
        cbs.bzrtp_srtpSecretsAvailable = self._cbs_keep[2]
        cbs.bzrtp_startSrtpSession = self._cbs_keep[3]
        cbs.bzrtp_contextReadyForExportedKeys = self._cbs_keep[4]
        self._cbs = cbs
        if L.bzrtp_setCallbacks(self.ptr, ctypes.byref(cbs)):
            raise RuntimeError("bzrtp_setCallbacks failed")
        for family, names in ((HASH_TYPE, hashes), (CIPHERBLOCK_TYPE, ciphers), (AUTHTAG_TYPE, auth_tags),
                              (KEYAGREEMENT_TYPE, key_agreements), (SAS_TYPE, sas_types)):
            if names is not None:
                codes = [CODES[family][n] for n in names]
                arr = (ctypes.c_uint8 * 7)(*codes)
                L.bzrtp_setSupportedCryptoTypes(self.ptr, family, arr, len(codes))
        rc = L.bzrtp_initBzrtpContext(self.ptr, ssrc)
        if rc:
            raise RuntimeError("bzrtp_initBzrtpContext failed: 0x%x" % rc)
        self.main = self._register(ssrc)

    def _register(self, ssrc):
        ch = BzrtpChannel(self, ssrc)
        self.channels[ssrc] = ch
        lib().bzrtp_setClientData(self.ptr, ssrc, ctypes.c_void_p(ssrc))
        return ch

    def add_channel(self, ssrc):
        rc = lib().bzrtp_addChannel(self.ptr, ssrc)
        if rc:
            raise RuntimeError("bzrtp_addChannel failed: 0x%x" % rc)
        return self._register(ssrc)

    def supported(self, family):
        arr = (ctypes.c_uint8 * 8)()
        n = lib().bzrtp_getSupportedCryptoTypes(self.ptr, family, arr)
        return [NAMES.get(arr[i], hex(arr[i])) for i in range(n)]

    def sas_verified(self):
        lib().bzrtp_SASVerified(self.ptr)

    def reset_sas_verified(self):
        lib().bzrtp_resetSASVerified(self.ptr)

    def close(self):
        if self.ptr:
            for ssrc in list(self.channels)[::-1]:
                lib().bzrtp_destroyBzrtpContext(self.ptr, ssrc)
            self.ptr = None
        if self._db is not None:
            sqlite().sqlite3_close(self._db)
            self._db = None

    # --- C callbacks: client data carries the channel's SSRC ---
    def _channel(self, client):
        return self.channels.get(client or 0)

    def _status(self, client, level, message_id, text):
        self.status_messages.append((level, message_id, text))
        if level == MESSAGE_ERROR and message_id == MESSAGE_CACHEMISMATCH:
            ch = self._channel(client)
            if ch is not None:
                ch.cache_mismatch = True
        return 0

    def _send(self, client, data, length):
        ch = self._channel(client)
        if ch is not None:
            ch.outbox.append(bytes(data[:length]))
        return 0

    def _secrets(self, client, secrets, part):
        ch = self._channel(client)
        if ch is not None:
            ch._on_secrets(secrets.contents, part)
        return 0

    def _start(self, client, secrets, verified):
        ch = self._channel(client)
        if ch is not None:
            ch._on_start(secrets.contents, verified)
        return 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def need():
    """Load the library now (fails the calling test, naming the package, when it is missing)."""
    hostenv  # keeps the import: hostenv is where every peer check lives
    return lib()


class Duel:
    """Our engine against a bzrtp channel on a simulated clock, through a lossy network.

    Every packet is dropped with probability ``loss``, sent twice with ``dup``, and delayed by
    1..``jitter`` ms (so packets overtake each other). ``mutate(direction, packet, rng)`` may
    replace or drop (None) a packet ("ours->bz" or "bz->ours"). The same seed gives the same
    network; bzrtp's own randomness (keys, hvi) is its own.
    """

    TICK = 5

    def __init__(self, ours, theirs, seed=1, loss=0.0, dup=0.0, jitter=0, start_ours=0, start_theirs=0,
                 mutate=None):
        import random

        self.ours, self.theirs = ours, theirs
        self.rng = random.Random(seed)
        self.loss, self.dup, self.jitter = loss, dup, jitter
        self.start_ours, self.start_theirs = start_ours, start_theirs
        self.mutate = mutate
        self.flight = []
        self.order = 0
        self.events = []
        self.sent = {"ours": [], "bz": []}
        self.now = 0

    def _post(self, packets_, direction):
        for p in packets_:
            self.sent["ours" if direction == "ours->bz" else "bz"].append(p)
            copies = 2 if self.rng.random() < self.dup else 1
            for _ in range(copies):
                if self.rng.random() < self.loss:
                    continue
                q = p
                if self.mutate is not None:
                    q = self.mutate(direction, p, self.rng)
                    if q is None:
                        continue
                self.order += 1
                delay = 1 + (self.rng.randrange(self.jitter) if self.jitter else 0)
                self.flight.append((self.now + delay, self.order, direction, q))

    def _drive_ours(self):
        o = self.ours
        t = o.timer()
        n = 0
        while t is not None and t <= self.now and n < 100000:
            o.handle_timer(self.now)
            n += 1
            t = o.timer()
            if t == self.now and not o.busy:
                break

    def run(self, limit_ms=130000):
        o, b = self.ours, self.theirs
        started_o = started_b = False
        while self.now <= limit_ms:
            if not started_o and self.now >= self.start_ours:
                o.start(self.now)
                started_o = True
            if not started_b and self.now >= self.start_theirs:
                b.start(self.now)
                started_b = True
            if started_o:
                self._drive_ours()
            if started_b:
                b.iterate(self.now)
            self._post(o.datagrams_to_send(), "ours->bz")
            self._post(b.take_outbox(), "bz->ours")
            self.flight.sort()
            while self.flight and self.flight[0][0] <= self.now:
                _, _, direction, p = self.flight.pop(0)
                if direction == "ours->bz":
                    if started_b:
                        b.receive(p)
                else:
                    o.receive(p, self.now)
                self._post(o.datagrams_to_send(), "ours->bz")
                self._post(b.take_outbox(), "bz->ours")
                self.flight.sort()
            while True:
                ev = o.next_event()
                if ev is None:
                    break
                self.events.append(ev)
            done_o = o.state in ("secure", "failed", "clear") and o.timer() is None
            if started_b and done_o and (b.secure or o.state == "failed") and not self.flight:
                break
            self.now += self.TICK
        return self

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]
