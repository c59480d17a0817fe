"""The ZRTP engine (RFC 6189), sans-IO: it takes packets and ``now_ms``, gives packets and events.

One :class:`Engine` runs ZRTP for one media stream. It never touches a socket or a clock, and
randomness is injected. The media session drives it like this::

    eng = Engine(ssrc, cache=cache, config=Config(), key_pool=pool)
    sdp_attr = "a=zrtp-hash:" + eng.hello_hash()          # "1.10 <64 hex digits>"
    eng.set_peer_hello_hash(value_from_peer_sdp)           # optional: checks the peer's Hello
    eng.start(now_ms)
    loop:
        a ZRTP packet arrived (cookie "ZRTP" at offset 4)  ->  eng.receive(packet, now_ms)
        eng.timer() is not None and now_ms >= eng.timer() ->  eng.handle_timer(now_ms)
        for packet in eng.datagrams_to_send():                send it to the peer's media address
        ev = eng.next_event(), until None:                    act on it (see the event classes)
        an SRTP packet from the peer authenticated         ->  eng.srtp_authenticated(now_ms)

``timer()`` is the next deadline in ms, or None. While slow work is pending (a DH key pair, a DH
result on the MicroPython backend, the key derivation after it), ``timer()`` returns the current
time and every ``handle_timer()`` does one bounded slice, so the caller keeps relaying media
between slices (``busy`` says whether such work is pending). The ``key_pool`` is the caller's:
step it (``pool.step()``) while no call is being set up, so that key pairs are ready.

Events (classes of :mod:`zerotap.zrtp.events`, also importable from here), in the order they
come:

- :class:`Sas`: the SAS is known. At the initiator it comes when Confirm1 is verified, before
  :class:`Secure`; it already carries the SRTP keys, so the box may install its *receive*
  context (the responder starts sending SRTP after its Conf2ACK). Never for multistream.
- :class:`Secure`: SRTP may be used both ways. Keys and salts for both directions, the SRTP
  profile name (``AES_CM_128_HMAC_SHA1_80`` ...), the SAS and its type, the negotiated
  algorithms, the peer ZID, the cache result (``"new"``/``"match"``/``"mismatch"``) and the
  verified flag. ``ev.status()`` gives the arguments of ``CallStatus.set_secure``.
- :class:`Error`: an Error message sent or received (RFC 6189 section 5.9), a timeout, or a check
  that failed. ``fatal`` says whether the exchange is over (state ``failed``).
- :class:`PeerCleared`: the peer sent a valid GoClear; ``accepted`` tells whether policy let us
  go clear (default: refused with Error 0x100, SRTP stays on).
- :class:`NoPeer`: 20 Hellos went unanswered (about 4 s); the box may start its fallback. The
  engine keeps listening and continues if a Hello arrives later.

States: which message each state takes, and which handler takes it, is one table, :data:`TAKES`
(read it one state at a time); ``_dispatch`` drops what a state does not list, quietly for the
late repeats ``_IGNORED`` names. host_tests/firmware/test_zrtp_states.py checks the table against
the transitions real exchanges make. Retransmission (section 6) is one :class:`Retransmission`.

Roles: the engine commits (is the initiator) as soon as it has the peer's Hello, a HelloACK (or
any sign the peer has our Hello) and a DH key pair; Commit contention is resolved by hvi
(section 4.2). As responder it answers a Commit at once when a key pair is ready (from the
``key_pool``, filled while idle), and never retransmits on its own (section 6).

Multistream (section 4.4.3): after the first stream is secure, ``eng.new_stream(ssrc)`` gives
the engine for a second stream of the same call; it keys that stream from ZRTPSess, without DH.

Retained secrets (section 4.3): with a :class:`~zerotap.zrtp.cache.Cache`, rs1/rs2 of the peer
ZID enter s0, and the new rs1 is stored when the exchange completes. On a mismatch the result is
``"mismatch"`` (a possible man in the middle): the verified flag is cleared and the new rs1 is
only stored once the user marks the SAS verified with ``set_verified(True)``. The verified flag
is shown only when a retained secret matched. The cache file is written once, when the call
ends: ``eng.end()`` writes it and then overwrites the call's secrets (``wipe()``); issue 12,
docs/trust.md.
"""
import binascii

from micropython import const

from zerotap import crypto
from zerotap.zrtp import algorithms, keys, packets, sas as sas_render
from zerotap.zrtp.events import Error, Event, NoPeer, PeerCleared, Sas, Secure  # noqa: F401 (the API)
from zerotap.zrtp.packets import (CLEARACK, COMMIT, CONF2ACK, CONFIRM1, CONFIRM2, DHPART1, DHPART2, ERROR,
                                  ERRORACK, GOCLEAR, HELLO, HELLOACK, PING, PINGACK, RELAYACK, SASRELAY)

# States (strings, so that logs and tests read well)
IDLE = "idle"
DISCOVERY = "discovery"  # sending Hello / answering Hellos (section 4.1)
COMMIT_SENT = "commit_sent"  # initiator: Commit sent, waiting for DHPart1 (or Confirm1 in multistream)
COMMIT_RECEIVED = "commit_received"  # responder: took a Commit, making the key pair for DHPart1
DHPART1_SENT = "dhpart1_sent"  # responder: DHPart1 sent, waiting for DHPart2
DHPART2_SENT = "dhpart2_sent"  # initiator: DHPart2 sent, computing and waiting for Confirm1
CONFIRM1_SENT = "confirm1_sent"  # responder: Confirm1 sent, waiting for Confirm2
CONFIRM2_SENT = "confirm2_sent"  # initiator: Confirm2 sent, waiting for Conf2ACK
SECURE = "secure"
CLEAR = "clear"  # the peer went clear with our consent (GoClear, section 4.7.2)
FAILED = "failed"

INITIATOR = "initiator"
RESPONDER = "responder"

from zerotap.states import CACHE_MATCH, CACHE_MISMATCH, CACHE_NEW

# Retransmission timers (section 6, and bzrtp/GNU ZRTP practice)
T1 = const(50)  # Hello: 50 ms, doubling
T1_CAP = const(200)
T1_RETRIES = const(20)  # before any Hello from the peer: about 4 s
T1_RETRIES_HEARD = const(62)  # once the peer is heard: 50 + 100 + 60 x 200 ms = 12.15 s
T2 = const(150)  # Commit, DHPart2, Confirm2, Error: 150 ms, doubling
T2_CAP = const(1200)
T2_RETRIES = const(10)

# Which message each state takes, and the handler that takes it (RFC 6189 sections 4 to 6).
# _dispatch enforces it: a message its state does not list never reaches a handler; it is dropped
# and counted (``dropped``), unless _IGNORED lists it (late repeats and acknowledgements a lossy
# network brings after the state moved on: ignored quietly). Ping, PingACK, Error, ErrorACK,
# ClearACK and RelayACK are taken in every state, before this table. In IDLE a Hello first starts
# the engine (the peer started first: join in), and DISCOVERY takes it.
TAKES = {
    IDLE: {},
    DISCOVERY: {HELLO: "_on_hello", HELLOACK: "_on_hello_ack", COMMIT: "_on_commit"},
    COMMIT_SENT: {HELLO: "_hello_again", COMMIT: "_on_commit", DHPART1: "_on_dhpart1",
                  CONFIRM1: "_on_confirm1"},
    COMMIT_RECEIVED: {HELLO: "_hello_again"},
    DHPART1_SENT: {HELLO: "_hello_again", COMMIT: "_commit_again", DHPART2: "_on_dhpart2"},
    DHPART2_SENT: {HELLO: "_hello_again", DHPART1: "_dhpart1_again", CONFIRM1: "_on_confirm1"},
    CONFIRM1_SENT: {HELLO: "_hello_again", COMMIT: "_commit_again", DHPART2: "_dhpart2_again",
                    CONFIRM2: "_on_confirm2"},
    CONFIRM2_SENT: {HELLO: "_hello_again", DHPART1: "_dhpart1_again", CONF2ACK: "_on_conf2ack"},
    SECURE: {HELLO: "_hello_after", DHPART1: "_dhpart1_again", DHPART2: "_dhpart2_after",
             CONFIRM1: "_confirm1_after", CONFIRM2: "_confirm2_after", GOCLEAR: "_on_goclear",
             SASRELAY: "_on_sasrelay"},
    CLEAR: {HELLO: "_hello_after", DHPART1: "_dhpart1_again", DHPART2: "_dhpart2_after",
            CONFIRM1: "_confirm1_after", CONFIRM2: "_confirm2_after"},
    FAILED: {},
}
_IGNORED = {
    DISCOVERY: (CONF2ACK,),
    COMMIT_SENT: (HELLOACK, CONF2ACK),
    COMMIT_RECEIVED: (HELLOACK, COMMIT, DHPART2, CONF2ACK),  # the key pair for DHPart1 is being made
    DHPART1_SENT: (HELLOACK, CONF2ACK),
    DHPART2_SENT: (HELLOACK, CONF2ACK),
    CONFIRM1_SENT: (HELLOACK, CONF2ACK),
    CONFIRM2_SENT: (HELLOACK, CONFIRM1),  # a repeat: our Confirm2 is on its way
    SECURE: (HELLOACK, CONF2ACK),
    CLEAR: (HELLOACK, CONF2ACK),
}

_GOCLEAR_LABEL = b"GoClear"  # clear_mac = MAC(sender's mackey, "GoClear"), as libzrtp
_INITIATOR = b"Initiator"
_RESPONDER = b"Responder"


class Config:
    """Policy of an engine. ``offer`` is an :class:`~zerotap.zrtp.algorithms.Offer` (defaults:
    S256, S384; AES1, AES3; HS80, HS32; X255, E255, EC25, DH3k (+Mult); B32, B256).

    - ``client_id``: the Hello's client identifier (16 bytes at most).
    - ``allow_clear``: accept a peer's GoClear (default False: refuse with Error 0x100).
    - ``cache_expiry``: the cache expiration interval we send in Confirm, seconds (section 4.9).
    - ``initiate``: commit when possible (default True); False waits for the peer's Commit.
    - ``passive``: set the Hello's P flag and never commit (section 5.2).
    - ``timeout_ms``: give up when not secure this long after the peer was first heard.
    """

    def __init__(self, offer=None, client_id="ZeroTap", allow_clear=False, cache_expiry=0xFFFFFFFF,
                 initiate=True, passive=False, timeout_ms=60000):
        self.offer = offer if offer is not None else algorithms.Offer()
        cid = client_id.encode() if isinstance(client_id, str) else bytes(client_id)
        if len(cid) > 16:
            raise ValueError("ZRTP client identifier must be at most 16 bytes, got %d" % len(cid))
        self.client_id = cid + b" " * (16 - len(cid))
        self.allow_clear = allow_clear
        self.cache_expiry = cache_expiry
        self.initiate = initiate and not passive
        self.passive = passive
        self.timeout_ms = timeout_ms


def _hex(b):
    if b is None:
        return None
    return binascii.hexlify(b).decode()


def _unhex(text):
    try:
        return binascii.unhexlify(text)
    except Exception:
        raise ValueError("a=zrtp-hash is not hex: %r" % (text,))


class Retransmission:
    """The one message an engine retransmits (section 6): its bytes, the interval (doubling up to
    a cap), the retries left, the deadline, and whether it is our Hello. ``next(now_ms)`` gives
    the message to send again and sets the next deadline, or None when the retries are spent."""

    def __init__(self):
        self.message = None
        self.interval = 0
        self.cap = 0
        self.left = 0
        self.at = None  # the deadline in ms, or None when nothing is armed
        self.hello = False

    def arm(self, message, now_ms, interval, cap, retries, hello=False):
        self.message = message
        self.interval = interval
        self.cap = cap
        self.left = retries
        self.at = now_ms + interval
        self.hello = hello

    def disarm(self):
        self.message = None
        self.at = None
        self.hello = False

    def next(self, now_ms):
        if self.left <= 0:
            return None
        self.left -= 1
        self.interval = min(self.interval * 2, self.cap)
        self.at = now_ms + self.interval
        return self.message


class Session:
    """What the streams of one call share: our ZID, the cache, the peer ZID, and after the first
    (DH) stream is secure, ZRTPSess and the SAS (section 4.4.3)."""

    def __init__(self, zid, cache):
        self.zid = zid
        self.cache = cache
        self.peer_zid = None
        self.zrtp_sess = None
        self.sas = None
        self.sas_type = None
        self.cache_result = None
        self.verified = False
        self.pending_rs1 = None  # (rs1, expiry) held back after a cache mismatch
        self.call_rs1 = None  # (rs1, expiry) of this call, kept for set_verified after an expiry


class Engine:
    """ZRTP for one media stream. See the module docstring for the driving loop.

    - ``ssrc``: our SSRC, written in every ZRTP packet header.
    - ``cache``: a :class:`~zerotap.zrtp.cache.Cache` (our ZID and retained secrets) or None
      (a random ZID, no retained secrets).
    - ``config``: a :class:`Config`.
    - ``key_pool``: a ``crypto.KeyPool`` filled while idle; without one the engine makes its own
      key pairs in bounded slices when it learns which key agreement it needs.
    - ``random_bytes``: ``f(n) -> bytes`` (default ``crypto.random_bytes``).
    - ``log``: ``f(text)`` for state changes and dropped packets (default: silent).
    - ``ka_backend``: where ``KeyGeneration``/``Agreement``/``public_length`` come from (default
      the crypto module, i.e. ``crypto.BACKEND``; tests pass ``crypto.backend("python")``).
    """

    def __init__(self, ssrc, cache=None, config=None, key_pool=None, random_bytes=None, log=None,
                 session=None, ka_backend=None):
        self.ssrc = ssrc & 0xFFFFFFFF
        self.config = config or Config()
        self._random = random_bytes or crypto.random_bytes
        self._log = log
        self._pool = key_pool
        self._ka = ka_backend or crypto
        if session is None:
            zid = cache.zid if cache is not None else bytes(self._random(12))
            session = Session(zid, cache)
            self._multistream = False
        else:
            self._multistream = True
        self._session = session
        self.state = IDLE
        self.role = None
        self.dropped = 0  # packets ignored: malformed, failed checks, unexpected
        self._seq = 1 + (int.from_bytes(self._random(2), "big") % 0x0FFF)  # below 0x1000 (bzrtp drops lower ones)
        self._out = []
        self._events = []
        self._h = keys.hash_chain(self._random(32))
        self._hello = self._build_hello()
        self._peer_hello = None
        self._peer_hello_hash = None
        self._hello_warning = None  # why a Hello was ignored (the first reason), for the timeout's Error
        self._hello_acked = False
        self._heard_ms = None
        self._no_peer_reported = False
        self._choice = None
        self._hash = None
        self._keypair = None
        self._keygen = None  # KeyGeneration job
        self._keygen_ka = None
        self._agreement = None  # Agreement job
        self._derivation = None  # generator: total_hash, s0, then one KDF per slice
        self._after_derivation = None
        self._commit = None  # our Commit message bytes
        self._peer_commit = None  # the peer's Commit (object, with raw)
        self._dhpart = None  # our DHPart message bytes
        self._peer_dhpart = None
        self._keys = None
        self._context = None
        self._stashed_confirm1 = []  # Confirm1s that came while the keys were computed (at most 4)
        self._bad_confirm = None  # why a Confirm was dropped (a MAC that failed): the reason if none comes
        self._confirm = None  # our Confirm message bytes
        self._peer_confirm_raw = None
        self._peer_v = False
        self._peer_expiry = 0xFFFFFFFF
        self._had_secrets = False
        self._s1 = None
        self._s1_matched = False
        self._rtx = Retransmission()
        self._last_now = 0
        # once SECURE (_let_go): SHA-256 digests of the peer's Hello, DHPart and Confirm, in place
        # of the messages, for the late repeats that state still answers or ignores
        self._hello_hash_text = None
        self._peer_hello_digest = None
        self._peer_dhpart_digest = None
        self._peer_confirm_digest = None

    # --- public API -----------------------------------------------------------------------------

    @property
    def zid(self):
        return self._session.zid

    @property
    def peer_zid(self):
        return self._session.peer_zid

    @property
    def secure(self):
        return self.state == SECURE

    @property
    def sas(self):
        return self._session.sas

    @property
    def busy(self):
        """True while slow work waits for slices: a key pair, a DH result, the key derivation."""
        return self._keygen is not None or self._agreement is not None or self._derivation is not None

    @property
    def session(self):
        return self._session

    def hello_hash(self):
        """``"1.10 <hex>"``: our Hello hash for the SDP attribute ``a=zrtp-hash`` (section 8.1)."""
        if self._hello is None:  # SECURE: the Hello is gone, its hash was kept (_let_go)
            return self._hello_hash_text
        return "1.10 " + _hex(keys.hello_hash(self._hello))

    def share_hello(self, other):
        """Forking (issue 14): this engine runs the exchange with another fork of the same offer,
        whose SDP carried OTHER's ``a=zrtp-hash``; it takes OTHER's hash chain (H0..H3), hence the
        same Hello and Hello hash, so that the fork's check of our Hello against the offer passes
        (RFC 6189 section 8.1). Only before :meth:`start`; the DH key pair, SSRC and every secret
        stay this engine's own, so each fork gets its own keys and SAS."""
        if self.state != IDLE:
            raise ValueError("share_hello: the engine has started already")
        self._h = other._h
        self._hello = self._build_hello()

    def set_peer_hello_hash(self, text):
        """The peer's ``a=zrtp-hash`` value from signalling ("1.10 <hex>" or "<hex>").

        A peer Hello that does not match it is ignored and reported (an :class:`Error`, not
        fatal); if the peer's Hello was already taken, a mismatch ends the exchange."""
        t = text.strip()
        version = None
        if " " in t:
            version, t = t.split(None, 1)
        if len(t) != 64:
            raise ValueError("a=zrtp-hash needs 64 hex digits, got %d" % len(t))
        if version is not None and not version.startswith("1."):
            raise ValueError("a=zrtp-hash: unsupported version %r" % version)
        self._peer_hello_hash = _unhex(t)
        if self._peer_hello is not None:
            got = keys.hello_hash(self._peer_hello.raw)
        else:
            got = self._peer_hello_digest  # SECURE: the Hello is gone, its hash was kept
        if got is not None and got != self._peer_hello_hash:
            self._fail(None, "the peer's Hello does not match the a=zrtp-hash from signalling")

    def start(self, now_ms):
        """Begin: send our Hello now and retransmit it on timer T1 (section 6)."""
        if self.state != IDLE:
            return
        self._last_now = now_ms
        self._set_state(DISCOVERY, "start")
        self._start_hello(now_ms, T1_RETRIES)

    def receive(self, packet, now_ms):
        """Handle one received ZRTP packet (bytes-like). Never raises: bad packets are dropped and
        counted in ``dropped``; the sequence number is not used to drop repeats or reordered
        packets (each message is judged by content and state, section 5)."""
        self._last_now = now_ms
        try:
            sequence, ssrc, message = packets.unframe(bytes(packet))
            msg = packets.parse(message)
        except Exception as e:  # ValueError with the reason; anything else is malformed too
            self._drop("unparsable: %s" % (e,))
            return
        try:
            self._dispatch(msg, ssrc, now_ms)
        except Exception as e:  # a bug or an input we did not foresee: end cleanly, never raise
            self._fail(packets.ERROR_SOFTWARE, "internal error handling %s: %r" % (msg.name, e), send=True)
        if self._heard_ms is None and self.state not in (IDLE, FAILED):
            self._heard_ms = now_ms  # the exchange timeout runs from the peer's first packet

    def datagrams_to_send(self):
        """The packets to send to the peer, oldest first (the list is emptied)."""
        out, self._out = self._out, []
        return out

    def timer(self):
        """The next deadline in ms (the current time while slices are pending), or None."""
        if self.busy:
            return self._last_now
        deadlines = []
        if self._rtx.at is not None:
            deadlines.append(self._rtx.at)
        if self._heard_ms is not None and self.state not in (SECURE, CLEAR, FAILED, IDLE):
            deadlines.append(self._heard_ms + self.config.timeout_ms)
        return min(deadlines) if deadlines else None

    def handle_timer(self, now_ms):
        """Run what is due at NOW_MS: at most one slice of slow work, then retransmissions."""
        self._last_now = now_ms
        try:
            if self._keygen is not None:
                self._step_keygen()
            elif self._agreement is not None:
                self._step_agreement()
            elif self._derivation is not None:
                self._step_derivation()
            if (self._heard_ms is not None and self.state not in (SECURE, CLEAR, FAILED, IDLE)
                    and now_ms >= self._heard_ms + self.config.timeout_ms):
                if self._bad_confirm is not None:
                    self._fail(packets.ERROR_CONFIRM_MAC, self._bad_confirm)
                else:
                    why = "not secure %d ms after the peer was heard" % self.config.timeout_ms
                    if self._peer_hello is None and self._hello_warning is not None:
                        why += ": " + self._hello_warning  # the cause, not only the timeout
                    self._fail(packets.ERROR_TIMEOUT, why)
                return
            if self._rtx.at is not None and now_ms >= self._rtx.at:
                self._retransmit(now_ms)
        except Exception as e:
            self._fail(packets.ERROR_SOFTWARE, "internal error in timer: %r" % (e,), send=True)

    def next_event(self):
        """The oldest pending event, or None."""
        if self._events:
            return self._events.pop(0)
        return None

    def set_verified(self, verified):
        """Mark the SAS as read and confirmed (or not) by the user (section 7.1).

        Stored in the cache for the peer ZID and sent as V in the next Confirm. After a cache
        mismatch, marking it verified also stores the held-back rs1."""
        s = self._session
        if s.peer_zid is None or s.cache is None:
            return
        if verified and s.pending_rs1 is not None:
            rs1, expiry = s.pending_rs1
            s.cache.store(s.peer_zid, rs1, expiry)
            s.pending_rs1 = None
            if s.cache_result == CACHE_MISMATCH:
                s.cache_result = CACHE_MATCH
        # only an entry with a retained secret is marked; one that expired during the call gets
        # this call's secret first (issue 12); the file is written once, when the call ends (end())
        s.cache.set_verified(s.peer_zid, verified, *(s.call_rs1 or (None, 0xFFFFFFFF)))

    def srtp_authenticated(self, now_ms):
        """An SRTP packet from the peer passed authentication: for the initiator waiting for
        Conf2ACK this confirms the exchange (section 4.6)."""
        self._last_now = now_ms
        if self.state == CONFIRM2_SENT:
            self._secure_initiator("SRTP from the peer")

    def new_stream(self, ssrc):
        """An engine for another media stream of this call, keyed in multistream mode (section 4.4.3)."""
        if self._session.zrtp_sess is None:
            raise ValueError("multistream needs a secure DH stream first")
        return Engine(ssrc, self._session.cache, self.config, self._pool, self._random, self._log, self._session,
                      self._ka)

    # --- internals: sending -----------------------------------------------------------------------

    def _set_state(self, state, why):
        if self._log is not None:
            self._log("zrtp %08x: %s -> %s (%s)" % (self.ssrc, self.state, state, why))
        self.state = state

    def _drop(self, why):
        self.dropped += 1
        if self._log is not None:
            self._log("zrtp %08x: dropped packet: %s" % (self.ssrc, why))

    def _send(self, message):
        self._out.append(packets.frame(self._seq, self.ssrc, message))
        self._seq = (self._seq + 1) & 0xFFFF or 1

    def _arm(self, message, now_ms, interval, cap, retries, hello=False):
        """Send MESSAGE now and retransmit it (same bytes, new sequence number) on a doubling timer."""
        self._send(message)
        self._rtx.arm(message, now_ms, interval, cap, retries, hello)

    def _disarm(self):
        self._rtx.disarm()

    def _retransmit(self, now_ms):
        rtx = self._rtx
        message = rtx.next(now_ms)
        if message is not None:
            self._send(message)
            return
        was_hello = rtx.hello
        rtx.disarm()
        if was_hello:
            if self._peer_hello is None:
                if not self._no_peer_reported:
                    self._no_peer_reported = True
                    self._events.append(NoPeer(T1_RETRIES + 1))
                return
            if self.state == DISCOVERY and not self._hello_acked:
                self._fail(packets.ERROR_TIMEOUT, "the peer never acknowledged our Hello")
            return
        if self.state == FAILED:
            return  # an Error message went unacknowledged: nothing more to do
        if self._bad_confirm is not None and self.state in (DHPART2_SENT, CONFIRM1_SENT):
            self._fail(packets.ERROR_CONFIRM_MAC, self._bad_confirm)
            return
        self._fail(packets.ERROR_TIMEOUT, "no answer to %d retransmissions" % T2_RETRIES)

    def _start_hello(self, now_ms, retries):
        self._arm(self._hello, now_ms, T1, T1_CAP, retries, hello=True)

    def _send_error(self, code):
        """Send an Error message and retransmit it until ErrorACK (section 5.9)."""
        self._arm(packets.Error(code).encode(), self._last_now, T2, T2_CAP, T2_RETRIES)

    def _fail(self, code, reason, send=None, received=False):
        """End the exchange: state failed, an Error event; SEND an Error message with CODE."""
        if self.state == FAILED:
            return
        if send is None:
            send = code is not None and code != packets.ERROR_TIMEOUT and not received
        self._disarm()
        self._keygen = None
        self._agreement = None
        self._derivation = None
        self._set_state(FAILED, reason)
        if send and code is not None:
            self._send_error(code)
        self._events.append(Error(code, reason, sent=bool(send and code is not None), received=received, fatal=True))

    # --- internals: Hello -----------------------------------------------------------------------

    def _build_hello(self):
        offer = self.config.offer
        h = packets.Hello(packets.VERSION, self.config.client_id, self._h[3], self._session.zid, False, False,
                          self.config.passive, offer.hashes, offer.ciphers, offer.auth_tags,
                          offer.hello_key_agreements, offer.sas_types)
        return packets.seal(h.encode(), self._h[2])  # Hello MAC keyed with H2 (section 9)

    def _dispatch(self, msg, ssrc, now_ms):
        t = msg.TYPE
        if t == PING:
            ack = packets.PingAck(packets.VERSION, crypto.sha256(self._session.zid)[:8], msg.endpoint_hash, ssrc)
            self._send(ack.encode())
            return
        if t == PINGACK or t == CLEARACK or t == RELAYACK:
            return
        if t == ERROR:
            self._on_error(msg)
            return
        if t == ERRORACK:
            if self._rtx.message is not None and packets.message_type(self._rtx.message) == ERROR:
                self._disarm()
            return
        if self.state == IDLE and t == HELLO:
            self.start(now_ms)  # the peer started first: join in
        name = TAKES[self.state].get(t)
        if name is None:
            if t not in _IGNORED.get(self.state, ()):
                self._drop("%s in state %s" % (msg.name, self.state))
            return
        getattr(self, name)(msg, now_ms)

    def _on_hello(self, h, now_ms):
        # The a=zrtp-hash from signalling before anything else in a Hello (issue 12): a Hello that
        # does not match it is not the peer's, whatever it says.
        if self._peer_hello_hash is not None and keys.hello_hash(h.raw) != self._peer_hello_hash:
            self._drop("Hello does not match a=zrtp-hash")
            self._warn_hello("a Hello that does not match the a=zrtp-hash from signalling was ignored")
            return
        if self._peer_hello is not None:
            self._repeated_hello(h)
            return
        # Version negotiation (section 4.1.1): we speak 1.10; a newer peer must come down to us.
        # An unauthenticated Hello that cannot be the peer's (an old version, our own ZID) is
        # dropped, not fatal: anyone can send one; the exchange times out if the peer is like it.
        if h.version[:3] != b"1.1":
            if h.version > packets.VERSION:
                self._drop("Hello version %r: waiting for the peer to offer 1.10" % (h.version,))
                return
            self._drop("Hello of ZRTP version %r" % (h.version,))
            self._warn_hello("a Hello of ZRTP version %r was ignored (we speak 1.10)" % (h.version,))
            return
        if h.zid == self._session.zid:
            self._drop("Hello with our own ZID")
            self._warn_hello("a Hello carrying our own ZID was ignored (a loop, or a stranger)")
            return
        s = self._session
        if s.peer_zid is not None and s.peer_zid != h.zid:
            self._fail(packets.ERROR_HELLO_MISMATCH, "the peer's ZID differs from the call's first stream")
            return
        try:
            choice = algorithms.choose(self.config.offer, h)
        except algorithms.NoCommonAlgorithm as e:
            self._fail(e.code, str(e))
            return
        if self._multistream:
            if algorithms.MULTISTREAM not in h.key_agreements:
                self._fail(packets.ERROR_KEY_AGREEMENT, "the peer does not offer multistream for a second stream")
                return
            choice.key_agreement = algorithms.MULTISTREAM
        self._peer_hello = h
        self._choice = choice
        self._hash = algorithms.Hash(choice.hash)
        s.peer_zid = h.zid
        self._send(packets.Ack(HELLOACK).encode())
        if not self._hello_acked:
            # keep our Hello going at least 12 s from now (bzrtp, libzrtp's T1_MAX_COUNT_EXT)
            self._start_hello(now_ms, T1_RETRIES_HEARD)
        if not self._multistream:
            self._want_key(self._ka_name(choice.key_agreement))
        self._try_commit(now_ms)

    def _warn_hello(self, reason):
        if self._hello_warning is None:  # once per exchange: a flood of them must not flood the log
            self._hello_warning = reason
            self._events.append(Error(None, reason, fatal=False))

    def _hello_again(self, h, now_ms):
        self._repeated_hello(h)

    def _repeated_hello(self, h):
        if self._peer_hello is not None and h.raw == self._peer_hello.raw:
            self._send(packets.Ack(HELLOACK).encode())  # the peer lost our HelloACK
        else:
            self._drop("a different Hello from the peer")

    def _hello_after(self, h, now_ms):
        if not self._same(h.raw, self._peer_hello, self._peer_hello_digest):
            self._drop("a different Hello from the peer")

    @staticmethod
    def _same(raw, kept, digest):
        """RAW is the message KEPT (a parsed message, or None), or once SECURE the one DIGEST
        (its SHA-256) stands for."""
        if kept is not None:
            return raw == kept.raw
        return digest is not None and crypto.sha256(raw) == digest

    def _on_hello_ack(self, msg, now_ms):
        if self._hello_acked:
            return
        self._hello_acked = True
        if self._rtx.hello:
            self._disarm()  # the peer has our Hello (section 4.1)
        self._try_commit(now_ms)

    # --- internals: keys ----------------------------------------------------------------------------

    @staticmethod
    def _ka_name(ka):
        return algorithms.KEY_AGREEMENTS[ka]

    def _want_key(self, ka):
        """Make sure a key pair for KA (crypto name) is ready or being made."""
        if self._keypair is not None and self._keypair.ka == ka:
            return
        if self._keygen is not None and self._keygen_ka == ka:
            return
        self._keypair = None
        pool = self._pool
        if pool is not None:
            ready = getattr(pool, "ready", None)
            if ready is None or ready(ka):
                self._keypair = pool.take(ka)
                return
        self._keygen = self._ka.KeyGeneration(ka)
        self._keygen_ka = ka
        self._step_keygen()

    def _step_keygen(self):
        job = self._keygen
        if job is None:
            return
        if job.step():
            self._keypair = job.result
            self._keygen = None
            self._key_ready()

    def _key_ready(self):
        if self.state == DISCOVERY:
            self._try_commit(self._last_now)
        elif self.state == COMMIT_RECEIVED:
            self._answer_commit()

    def _step_agreement(self):
        job = self._agreement
        if job is None:
            return
        try:
            done = job.step()
        except ValueError as e:
            self._agreement = None
            self._fail(packets.ERROR_BAD_PV, "bad DH public value: %s" % e)
            return
        if done:
            self._agreement = None
            self._dh_done(job.result)

    # --- internals: Commit ----------------------------------------------------------------------

    def _try_commit(self, now_ms):
        """Commit when we may: peer Hello known, our Hello acknowledged, a key ready (section 4.2)."""
        if self.state != DISCOVERY or not self.config.initiate or self._peer_hello is None or not self._hello_acked:
            return
        c = self._choice
        s = self._session
        if self._multistream:
            if s.zrtp_sess is None:
                return
            commit = packets.Commit(self._h[2], s.zid, c.hash, c.cipher, c.auth_tag, algorithms.MULTISTREAM, c.sas,
                                    nonce=bytes(self._random(16)))
        else:
            if self._keypair is None or self._keypair.ka != self._ka_name(c.key_agreement):
                self._want_key(self._ka_name(c.key_agreement))
                if self._keypair is None:
                    return  # committed when the key pair is ready
            self._dhpart = self._build_dhpart(2, _INITIATOR)
            hvi = keys.hvi(self._hash, self._dhpart, self._peer_hello.raw)
            commit = packets.Commit(self._h[2], s.zid, c.hash, c.cipher, c.auth_tag, c.key_agreement, c.sas,
                                    hvi=hvi)
        self._commit = packets.seal(commit.encode(), self._h[1])  # Commit MAC keyed with H1 (section 9)
        self.role = INITIATOR
        self._set_state(COMMIT_SENT, "committing %s" % algorithms.text(commit.key_agreement))
        self._arm(self._commit, now_ms, T2, T2_CAP, T2_RETRIES)

    def _build_dhpart(self, part, label):
        """Our DHPart (1 as responder, 2 as initiator) with the secret IDs made with LABEL (section 4.3.1)."""
        hmac = self._hash.hmac
        rs1 = rs2 = None
        entry = self._cache_entry()
        if entry is not None:
            rs1, rs2 = entry.rs1, entry.rs2
        rs1_id = keys.rs_id(hmac, rs1, label) if rs1 else bytes(self._random(8))
        rs2_id = keys.rs_id(hmac, rs2, label) if rs2 else bytes(self._random(8))
        # no auxsecret, no pbxsecret: random IDs (section 4.3.1)
        d = packets.DHPart(part, self._h[1], rs1_id, rs2_id, bytes(self._random(8)), bytes(self._random(8)),
                           self._keypair.public)
        return packets.seal(d.encode(), self._h[0])  # DHPart MAC keyed with H0 (section 9)

    def _cache_entry(self):
        s = self._session
        if s.cache is None or s.peer_zid is None:
            return None
        return s.cache.get(s.peer_zid)

    def _commit_again(self, c, now_ms):
        """Responder, after answering the Commit: a repeat means the initiator lost our answer."""
        if self._peer_commit is not None and c.raw == self._peer_commit.raw:
            # send it again (section 6)
            if self.state == DHPART1_SENT and self._dhpart is not None:
                self._send(self._dhpart)
            elif self.state == CONFIRM1_SENT and self._confirm is not None and self._multistream_exchange():
                self._send(self._confirm)
        else:
            self._drop("a different Commit after we answered one")

    def _on_commit(self, c, now_ms):
        h = self._peer_hello
        if h is None:
            self._drop("Commit before the peer's Hello")
            return
        # H2 -> H3 of the Hello, and the Hello's MAC keyed with H2 (section 9)
        if crypto.sha256(c.h2) != h.h3 or not packets.mac_ok(h.raw, c.h2):
            self._drop("Commit does not match the peer's Hello (hash chain or Hello MAC)")
            return
        if c.zid != h.zid:
            self._drop("Commit ZID differs from the Hello's")
            return
        if self.state == COMMIT_SENT:
            if not self._lose_contention(c):
                return  # we stay initiator; the peer will answer our Commit
            self._disarm()
            self._commit = None
        try:
            choice = algorithms.check_commit(self.config.offer, c)
        except algorithms.NoCommonAlgorithm as e:
            self._fail(e.code, str(e))
            return
        if c.preshared:
            self._fail(packets.ERROR_KEY_AGREEMENT, "preshared mode is not supported")
            return
        if c.multistream and self._session.zrtp_sess is None:
            self._fail(packets.ERROR_NO_SHARED_SECRET, "a multistream Commit, but no secure stream to key it from")
            return
        self._disarm()  # no more Hellos: the Commit acknowledges ours (section 4.1)
        self._hello_acked = True
        self._peer_commit = c
        self._choice = choice
        self._hash = algorithms.Hash(choice.hash)
        self.role = RESPONDER
        if c.multistream:
            self._multistream = True
            self._set_state(COMMIT_RECEIVED, "took the peer's multistream Commit, as responder")
            self._start_derivation(self._derive_multistream(), self._multistream_responder_ready)
            return
        self._multistream = False
        self._set_state(COMMIT_RECEIVED, "took the peer's Commit, as responder")
        self._want_key(self._ka_name(choice.key_agreement))
        if self._keypair is not None:
            self._answer_commit()

    def _multistream_exchange(self):
        return self._choice is not None and self._choice.key_agreement == algorithms.MULTISTREAM

    def _lose_contention(self, peer):
        """Commit contention (section 4.2): True when the peer's Commit wins and we become responder."""
        ours = packets.Commit.parse(self._commit)
        ours_dh, peer_dh = ours.hvi is not None, peer.hvi is not None
        if ours_dh != peer_dh:
            return peer_dh  # a DH Commit beats a non-DH one (multistream or preshared)
        if ours_dh:
            return ours.hvi < peer.hvi
        return ours.nonce < peer.nonce

    def _answer_commit(self):
        """Responder: send DHPart1 (section 4.4.1.2)."""
        self._dhpart = self._build_dhpart(1, _RESPONDER)
        self._send(self._dhpart)
        self._set_state(DHPART1_SENT, "answered the Commit")

    # --- internals: DHPart --------------------------------------------------------------------------

    def _check_pv(self, d):
        n = self._ka.public_length(self._ka_name(self._choice.key_agreement))
        if len(d.pv) != n:
            self._drop("%s public value has %d bytes, %s needs %d" % (d.name, len(d.pv),
                                                                      algorithms.text(self._choice.key_agreement), n))
            return False
        return True

    def _dhpart1_again(self, d, now_ms):
        if not self._same(d.raw, self._peer_dhpart, self._peer_dhpart_digest):
            self._drop("DHPart1 in state %s" % self.state)

    def _on_dhpart1(self, d, now_ms):
        if self._multistream_exchange():
            self._drop("DHPart1 in a multistream exchange")
            return
        if not self._check_pv(d):
            return
        h = self._peer_hello
        h2 = crypto.sha256(d.h1)
        if crypto.sha256(h2) != h.h3 or not packets.mac_ok(h.raw, h2):  # H1 -> H3, Hello MAC (section 9)
            self._drop("DHPart1 does not match the peer's Hello (hash chain or Hello MAC)")
            return
        self._peer_dhpart = d
        self._match_secrets(d, _RESPONDER)
        self._set_state(DHPART2_SENT, "DHPart1 received")
        self._arm(self._dhpart, now_ms, T2, T2_CAP, T2_RETRIES)
        self._agreement = self._ka.Agreement(self._keypair, d.pv)
        self._step_agreement()

    def _dhpart2_again(self, d, now_ms):
        if self._peer_dhpart is not None and d.raw == self._peer_dhpart.raw and self._confirm is not None:
            self._send(self._confirm)  # the initiator lost our Confirm1 (section 6)

    def _dhpart2_after(self, d, now_ms):
        if self.role != RESPONDER:
            self._drop("DHPart2 but we are not responder")

    def _on_dhpart2(self, d, now_ms):
        if self._agreement is not None or self._derivation is not None:
            return  # still computing the shared secret: the repeat changes nothing
        if not self._check_pv(d):
            return
        c = self._peer_commit
        if crypto.sha256(d.h1) != c.h2 or not packets.mac_ok(c.raw, d.h1):  # H1 -> H2, Commit MAC (section 9)
            self._drop("DHPart2 does not match the peer's Commit (hash chain or Commit MAC)")
            return
        if not packets.equal(keys.hvi(self._hash, d.raw, self._hello), c.hvi):  # section 4.4.1.1
            self._fail(packets.ERROR_BAD_HVI, "hvi in the Commit does not match DHPart2 and our Hello")
            return
        self._peer_dhpart = d
        self._match_secrets(d, _INITIATOR)
        self._agreement = self._ka.Agreement(self._keypair, d.pv)
        self._step_agreement()

    def _match_secrets(self, d, peer_label):
        """Pick s1 from rs1/rs2 against the peer's IDs; remember new/match/mismatch (section 4.3)."""
        entry = self._cache_entry()
        rs1 = rs2 = None
        if entry is not None:
            rs1, rs2 = entry.rs1, entry.rs2
        self._had_secrets = rs1 is not None or rs2 is not None
        self._s1, self._s1_matched = keys.select_s1(self._hash.hmac, rs1, rs2, d.rs1_id, d.rs2_id, peer_label)

    def _start_derivation(self, steps, after):
        self._derivation = steps
        self._after_derivation = after
        self._step_derivation()

    def _step_derivation(self):
        try:
            next(self._derivation)
        except StopIteration:
            self._derivation = None
            after, self._after_derivation = self._after_derivation, None
            after()

    def _dh_done(self, dh_result):
        """The DH result is known: s0, the KDF context and the keys, in slices (section 4.4.1.4)."""
        self._start_derivation(self._derive_dh(dh_result), self._dh_keys_ready)

    def _derive_dh(self, dh_result):
        s = self._session
        if self.role == INITIATOR:
            total = keys.total_hash(self._hash, self._peer_hello.raw, self._commit, self._peer_dhpart.raw, self._dhpart)
            zidi, zidr = s.zid, s.peer_zid
        else:
            total = keys.total_hash(self._hash, self._hello, self._peer_commit.raw, self._dhpart, self._peer_dhpart.raw)
            zidi, zidr = s.peer_zid, s.zid
        yield
        self._context = keys.kdf_context(zidi, zidr, total)
        s0 = keys.s0_dh(self._hash, dh_result, self._context, self._s1)
        keys.wipe(dh_result)  # issue 12: secrets do not linger (s0 is wiped by Keys.steps)
        yield
        k = keys.Keys()
        for _ in k.steps(self._hash, algorithms.CIPHERS[self._choice.cipher], s0, self._context):
            yield
        self._keys = k

    def _dh_keys_ready(self):
        self._keypair.wipe()
        self._keypair = None  # a DH key pair serves one exchange only
        if self.role == RESPONDER:
            self._send_confirm(1)
            self._set_state(CONFIRM1_SENT, "shared secret computed")
        else:
            self._confirm1_ready()

    def _confirm1_ready(self):
        # every Confirm1 kept while the keys were computed, in arrival order: a bad one is dropped,
        # the first good one moves on (issue 12: a good stored Confirm1 is never replaced)
        stashed, self._stashed_confirm1 = self._stashed_confirm1, []
        for m in stashed:
            if self.state != DHPART2_SENT and not (self.state == COMMIT_SENT and self._multistream_exchange()):
                break
            self._on_confirm1(m, self._last_now)

    def _stash_confirm1(self, m):
        if len(self._stashed_confirm1) < 4 and all(x.raw != m.raw for x in self._stashed_confirm1):
            self._stashed_confirm1.append(m)

    def _derive_multistream(self):
        """Multistream: s0 from ZRTPSess (section 4.4.3.2), then the keys, in slices."""
        s = self._session
        if self.role == INITIATOR:
            total = keys.total_hash(self._hash, self._peer_hello.raw, self._commit)
            zidi, zidr = s.zid, s.peer_zid
        else:
            total = keys.total_hash(self._hash, self._hello, self._peer_commit.raw)
            zidi, zidr = s.peer_zid, s.zid
        self._context = keys.kdf_context(zidi, zidr, total)
        s0 = keys.s0_multistream(self._hash, s.zrtp_sess, self._context)
        yield
        k = keys.Keys()
        for _ in k.steps(self._hash, algorithms.CIPHERS[self._choice.cipher], s0, self._context, True):
            yield
        self._keys = k

    def _multistream_responder_ready(self):
        self._send_confirm(1)
        self._set_state(CONFIRM1_SENT, "multistream keys derived")

    # --- internals: Confirm ---------------------------------------------------------------------

    def _send_confirm(self, part):
        k = self._keys
        zrtpkey, mackey = (k.zrtpkeyr, k.mackeyr) if part == 1 else (k.zrtpkeyi, k.mackeyi)
        s = self._session
        v = bool(s.cache is not None and s.peer_zid is not None and s.cache.verified(s.peer_zid))
        if self._had_secrets and not self._s1_matched and not self._multistream_exchange():
            v = False  # a cache mismatch: the SAS must be read again (sections 4.3.2, 7.1)
        body = packets.ConfirmBody(self._h[0], False, v, self.config.allow_clear, False, self.config.cache_expiry)
        conf = packets.Confirm.seal(part, body, bytes(self._random(16)), zrtpkey, mackey, self._hash.hmac)
        self._confirm = conf.encode()
        if part == 1:
            self._send(self._confirm)  # the responder only answers (section 6)
        else:
            self._arm(self._confirm, self._last_now, T2, T2_CAP, T2_RETRIES)

    def _open_confirm(self, m, zrtpkey, mackey):
        """The decrypted body of a peer Confirm, or None (section 4.6). A Confirm whose MAC fails
        is dropped: anyone can send one (issue 12), and the peer's own comes again (the initiator
        retransmits, the responder answers each DHPart2). If no good one comes, the exchange ends
        with Error 0x70 when the retransmissions or the exchange timeout run out."""
        if not m.mac_ok(mackey, self._hash.hmac):
            self._bad_confirm = "%s MAC does not match: the keys differ" % m.name
            self._drop(self._bad_confirm)
            return None
        try:
            return m.open(zrtpkey, mackey, self._hash.hmac)
        except ValueError as e:
            self._fail(packets.ERROR_MALFORMED, str(e))
            return None

    def _chain_ok(self, h0):
        """H0 from a Confirm against the earlier messages: the last hash-chain link (section 9)."""
        h1 = crypto.sha256(h0)
        if self._multistream_exchange():
            h2 = crypto.sha256(h1)
            if self.role == RESPONDER:  # H2 -> the Commit, whose MAC is keyed with H1
                c = self._peer_commit
                return h2 == c.h2 and packets.mac_ok(c.raw, h1)
            h = self._peer_hello  # initiator: H3 -> the Hello, whose MAC is keyed with H2
            return crypto.sha256(h2) == h.h3 and packets.mac_ok(h.raw, h2)
        d = self._peer_dhpart  # DH: H1 -> the peer's DHPart, whose MAC is keyed with H0
        return h1 == d.h1 and packets.mac_ok(d.raw, h0)

    def _confirm1_after(self, m, now_ms):
        if self.role != INITIATOR:
            self._drop("Confirm1 but we are not initiator")

    def _on_confirm1(self, m, now_ms):
        if self.state == COMMIT_SENT and self._multistream_exchange():
            if self._keys is None:
                self._stash_confirm1(m)
                if self._derivation is None:
                    self._disarm()  # the Commit arrived: stop resending it
                    self._start_derivation(self._derive_multistream(), self._confirm1_ready)
                return
        elif self.state != DHPART2_SENT:
            self._drop("Confirm1 in state %s" % self.state)
            return
        if self._keys is None:
            self._stash_confirm1(m)  # the DH result is still being computed
            return
        if not self._take_confirm(m, self._keys.zrtpkeyr, self._keys.mackeyr):
            return
        self._disarm()
        self._conclude_sas()
        self._send_confirm(2)
        self._set_state(CONFIRM2_SENT, "Confirm1 verified")

    def _confirm2_after(self, m, now_ms):
        if self.role != RESPONDER:
            self._drop("Confirm2 but we are not responder")
        elif self._peer_confirm_digest is not None and crypto.sha256(m.raw) == self._peer_confirm_digest:
            self._send(packets.Ack(CONF2ACK).encode())  # the initiator lost our Conf2ACK

    def _on_confirm2(self, m, now_ms):
        if not self._take_confirm(m, self._keys.zrtpkeyi, self._keys.mackeyi):
            return
        self._send(packets.Ack(CONF2ACK).encode())
        self._conclude_sas()
        self._go_secure("Confirm2 verified")

    def _take_confirm(self, m, zrtpkey, mackey):
        """Open the peer's Confirm M and check the H0 it reveals against the hash chain (section
        9); when both hold, keep what it said and return True."""
        body = self._open_confirm(m, zrtpkey, mackey)
        if body is None:
            return False
        if not self._chain_ok(body.h0):
            self._fail(packets.ERROR_CONFIRM_MAC,
                       "Confirm%d's H0 does not match the earlier messages" % m.part)
            return False
        self._peer_confirm_raw = m.raw
        self._peer_v = body.v
        self._peer_expiry = body.expiry
        return True

    def _on_conf2ack(self, msg, now_ms):
        self._secure_initiator("Conf2ACK")

    def _secure_initiator(self, why):
        self._disarm()
        self._go_secure(why)

    def _conclude_sas(self):
        """SAS, cache result and verified flag once the peer's Confirm is verified (sections 4.5.2, 7.1)."""
        s = self._session
        if self._multistream_exchange():
            return
        c = self._choice
        s.sas_type = algorithms.text(c.sas)
        s.sas = sas_render.render(c.sas, self._keys.sas_value)
        s.zrtp_sess = self._keys.zrtp_sess
        if not self._had_secrets:
            s.cache_result = CACHE_NEW
        elif self._s1_matched:
            s.cache_result = CACHE_MATCH
        else:
            s.cache_result = CACHE_MISMATCH
        # the verified flag stands only on a retained secret that matched (issue 12)
        ours = bool(s.cache is not None and s.cache.verified(s.peer_zid)) and s.cache_result == CACHE_MATCH
        if s.cache_result == CACHE_MISMATCH:
            ours = False
            if s.cache is not None:
                s.cache.set_verified(s.peer_zid, False)  # section 4.3.2: the SAS must be read again
        s.verified = ours and self._peer_v
        self._events.append(self._keyed(Sas))

    def _keyed(self, cls):
        """A :class:`Sas` or :class:`Secure` event from the keys and choices of this exchange."""
        k = self._keys
        c = self._choice
        names = c.names()
        s = self._session
        if self.role == INITIATOR:
            local = (k.srtp_key_i, k.srtp_salt_i)
            remote = (k.srtp_key_r, k.srtp_salt_r)
        else:
            local = (k.srtp_key_r, k.srtp_salt_r)
            remote = (k.srtp_key_i, k.srtp_salt_i)
        return cls(self.role, self.ssrc, self._multistream, algorithms.profile(c.cipher, c.auth_tag),
                   local[0], local[1], remote[0], remote[1], s.sas, s.sas_type, names["hash"],
                   names["cipher"], names["auth"], names["ka"], _hex(s.peer_zid), s.cache_result,
                   s.verified)

    def _go_secure(self, why):
        s = self._session
        if not self._multistream_exchange() and s.cache is not None:
            expiry = min(self.config.cache_expiry, self._peer_expiry)
            if s.cache_result == CACHE_MISMATCH:
                s.pending_rs1 = (self._keys.new_rs1, expiry)  # stored once the SAS is verified
            else:
                s.cache.store(s.peer_zid, self._keys.new_rs1, expiry)
                s.call_rs1 = (self._keys.new_rs1, expiry)
            # the cache file is written once per call, when it ends (end()): at most one flash
            # write per secure call, the user's verdict included (issue 12)
        self._set_state(SECURE, why)
        self._events.append(self._keyed(Secure))
        self._let_go()

    def _let_go(self):
        """SECURE: keep only what SRTP, the SAS, the cache update and the late repeats need
        (issue 19). The keys (SRTP keys went out in the events; MAC and ZRTP keys for GoClear
        and SASrelay; ZRTPSess for multistream; the new rs1), the hash for their MACs, the choice,
        the session (SAS, peer ZID, cache result) stay, and so does the hash chain (4 x 32 bytes): a
        fork of the same offer made later takes it (:meth:`share_hello`) to send the Hello the
        offer's ``a=zrtp-hash`` announced. The messages, ours and the peer's, s1, the KDF context
        and the retransmission's bytes go; the peer's Hello,
        DHPart and Confirm are remembered by their SHA-256 (32 bytes each) so that a late repeat
        is still told from a stranger's message: a repeated Confirm2 still gets its Conf2ACK, a
        repeated Hello or DHPart1 is still ignored quietly, any other is dropped and counted."""
        if self._hello is not None:
            self._hello_hash_text = self.hello_hash()
        ph = self._peer_hello
        if ph is not None:
            self._peer_hello_digest = keys.hello_hash(ph.raw)
        pd = self._peer_dhpart
        if pd is not None:
            self._peer_dhpart_digest = crypto.sha256(pd.raw)
        if self._peer_confirm_raw is not None:
            self._peer_confirm_digest = crypto.sha256(self._peer_confirm_raw)
        if self._s1 is not None:
            keys.wipe(self._s1)
        self._hello = self._peer_hello = self._commit = self._peer_commit = None
        self._dhpart = self._peer_dhpart = self._confirm = self._peer_confirm_raw = None
        self._stashed_confirm1 = []
        self._context = self._s1 = None
        self._bad_confirm = None
        self._rtx.disarm()

    # --- internals: after the exchange, and errors ----------------------------------------------

    def _on_goclear(self, g, now_ms):
        mackey = self._keys.mackeyr if self.role == INITIATOR else self._keys.mackeyi
        if not packets.equal(self._hash.hmac(mackey, _GOCLEAR_LABEL)[:8], g.clear_mac):
            self._drop("GoClear with a bad clear_mac")
            return
        if self.config.allow_clear:
            self._send(packets.Ack(CLEARACK).encode())
            self._set_state(CLEAR, "GoClear accepted")
            self._events.append(PeerCleared(True))
        else:
            self._send_error(packets.ERROR_GOCLEAR_NOT_ALLOWED)  # section 4.7.2
            self._events.append(PeerCleared(False))

    def _on_sasrelay(self, r, now_ms):
        k = self._keys
        zrtpkey, mackey = (k.zrtpkeyr, k.mackeyr) if self.role == INITIATOR else (k.zrtpkeyi, k.mackeyi)
        try:
            r.open(zrtpkey, mackey, self._hash.hmac)
        except ValueError as e:
            self._drop(str(e))
            return
        # We enrolled with no trusted MiTM (section 7.3): acknowledge, ignore the relayed SAS.
        self._send(packets.Ack(RELAYACK).encode())
        self._events.append(Error(packets.ERROR_UNTRUSTED_MITM, "ignored a SAS relayed by an untrusted MiTM",
                                  fatal=False))

    def end(self):
        """The call ended: write the trust cache once, with what this call changed (the new rs1,
        the verified flag; nothing when nothing changed: an exchange that never reached SECURE
        writes nothing), then overwrite the secrets (:meth:`wipe`). A write that fails (flash
        full) leaves the cache's warning, never an exception. Should the box lose power during
        the call, the peer's rs2 still matches our old rs1 next time (RFC 6189 section 4.6.1)."""
        if self._session.cache is not None:
            self._session.cache.save()
        self.wipe()

    def wipe(self):
        """The call ended: overwrite this stream's secrets (issue 12, as far as the interpreter
        allows): the derived keys (SRTP master keys and salts, ZRTP and MAC keys, ZRTPSess, the
        new rs1), a DH key pair not yet used, and the session's retained secrets of this call.
        The engine must not be used after. The trust cache keeps its own copies."""
        if self._keys is not None:
            self._keys.wipe()
        if self._keypair is not None:
            self._keypair.wipe()
            self._keypair = None
        s = self._session
        for held in (s.pending_rs1, s.call_rs1):
            if held is not None:
                keys.wipe(held[0])
        s.pending_rs1 = s.call_rs1 = None
        self._s1 = None
        self._keygen = self._agreement = self._derivation = None
        self._disarm()
        self._out = []

    def _on_error(self, e):
        self._send(packets.Ack(ERRORACK).encode())  # section 5.10
        if self.state in (SECURE, CLEAR):
            self._events.append(Error(e.code, "peer sent Error 0x%x after the exchange: %s" % (e.code, e.text),
                                      received=True, fatal=False))
            return
        if self.state in (IDLE, FAILED):
            return
        self._fail(e.code, "peer sent Error 0x%x: %s" % (e.code, e.text), send=False, received=True)
