"""The box's status model: the one truth behind the display, the JSON status stream and the controls.

Protocol code changes it through methods; renderers only read it. A call is SECURE only through
:meth:`CallStatus.set_secure`, which the media session calls when SRTP keys exist and the peer's
Confirm MAC was verified. Every change bumps ``BoxStatus.version`` and notifies the listeners
(the display, the status stream).
"""
import json

# Call.security and Call.cache (the ZRTP retained-secret result): zerotap.states names them
from zerotap.states import CACHE_MATCH, CACHE_MISMATCH, CACHE_NEW, CLEAR, FAILED, NEGOTIATING, SECURE

# Call.state
CALLING = "calling"  # outgoing, not answered yet
RINGING = "ringing"  # incoming, not answered yet
ACTIVE = "active"
ENDED = "ended"

# BoxStatus.network
NET_DOWN = "down"
NET_UP = "up"

FIELDS = ("call", "direction", "peer", "state", "security", "sas", "sas_type", "hash", "cipher",
          "auth", "ka", "peer_zid", "verified", "cache", "mitm", "error", "fallback", "path")


class CallStatus:
    """What the person at the phone must know about one call."""

    def __init__(self, box, call, direction, peer):
        self._box = box
        self.call = call  # an id, unique while the box runs
        self.direction = direction  # "out" (the phone called) or "in"
        self.peer = peer  # the remote party, as the phone would show it
        self.state = RINGING if direction == "in" else CALLING
        self.security = CLEAR
        self.sas = None
        self.sas_type = None  # "B32" or "B256"
        self.hash = None
        self.cipher = None
        self.auth = None
        self.ka = None
        self.peer_zid = None  # hex
        self.verified = False
        self.cache = None
        self.mitm = False  # True: a cache mismatch, or plain RTP after SECURE
        self.error = None
        self.fallback = None  # the ICE fallback's step (zerotap.states FALLBACK_STEPS), or None
        self.path = "provider"  # the network path carrying the media: "provider" or "direct"

    def as_dict(self):
        return {name: getattr(self, name) for name in FIELDS}

    def to_json(self):
        return json.dumps(self.as_dict())

    def _changed(self):
        self._box.changed(self)

    def set_state(self, state):
        if state != self.state:
            self.state = state
            self._changed()

    def negotiating(self):
        if self.security == CLEAR:
            self.security = NEGOTIATING
            self._changed()

    def set_clear(self, reason=None):
        """Not secure and no longer trying (the peer has no ZRTP): CLEAR, with REASON. A SECURE
        call never goes back to CLEAR this way."""
        if self.security != SECURE and (self.security != CLEAR or self.error != reason):
            self.security = CLEAR
            self.error = reason
            self._changed()

    def set_secure(self, sas, sas_type, hash, cipher, auth, ka, peer_zid, cache, verified):
        """The only way to SECURE: call it once SRTP keys exist and the Confirm MAC was verified."""
        self.security = SECURE
        self.sas = sas
        self.sas_type = sas_type
        self.hash = hash
        self.cipher = cipher
        self.auth = auth
        self.ka = ka
        self.peer_zid = peer_zid
        self.cache = cache
        self.verified = bool(verified) and cache != CACHE_MISMATCH
        if cache == CACHE_MISMATCH:
            self.mitm = True
            self._box.show(self)
        self.error = None
        self._changed()

    def rekeying(self):
        """The far media moved (a re-INVITE or UPDATE named another peer) after SECURE: a new
        ZRTP exchange runs with the new peer. NEGOTIATING again, the old SAS and algorithms
        forgotten (the new exchange brings its own); an alarm already raised stays."""
        self.security = NEGOTIATING
        self.sas = self.sas_type = self.hash = self.cipher = self.auth = self.ka = None
        self.peer_zid = None
        self.cache = None
        self.verified = False
        self.error = None
        self._changed()

    def set_verified(self, verified):
        if self.security == SECURE and bool(verified) != self.verified:
            self.verified = bool(verified)
            self._changed()

    def fail(self, reason):
        """The call is not secure and will not become so; REASON says why. A failed call is
        never VERIFIED (only a SECURE one can be)."""
        self.security = FAILED
        self.verified = False
        self.error = reason
        self._changed()

    def set_fallback(self, step, reason=None):
        """The ICE fallback's STEP (zerotap.ice.fallback: "blocked", "exchanging", "connecting",
        "zrtp", "direct", "failed"); REASON with "failed". SECURE still comes only through
        :meth:`set_secure` (the fresh ZRTP engine on the direct path)."""
        self.fallback = step
        self.path = "direct" if step in ("zrtp", "direct") else "provider"
        if reason is not None:
            self.error = reason
        self._changed()

    def alarm(self, reason):
        """Something an attacker could cause (plain RTP after SECURE, say): flag it, keep the state."""
        self.mitm = True
        self.error = reason
        self._box.show(self)
        self._changed()


class BoxStatus:
    """The whole box: boot and network state, registration, config errors, and the calls."""

    def __init__(self):
        self.booting = True
        self.network = NET_DOWN
        self.ip = None
        self.registered = False
        self.config_error = None  # (key, message) while a bad config is refused
        self.config_fallback = False  # with config_error: the last good config is in use
        self.warning = None  # a loud warning that outlives calls (a corrupt cache was set aside)
        self.transport = "UDP"  # toward the provider (network.transport)
        self.public = None  # "host:port" the provider sees, behind NAT (docs/transports.md)
        self.registration_error = None  # why the provider could not be reached, or None
        self.calls = []
        self.selected = 0  # index into calls of the call the display shows
        self.version = 0
        self._listeners = []

    def listen(self, func):
        """FUNC(box, call_or_None) runs after every change."""
        self._listeners.append(func)

    def changed(self, call=None):
        self.version += 1
        for func in self._listeners:
            func(self, call)

    def set_network(self, up, ip=None):
        self.booting = False
        self.network = NET_UP if up else NET_DOWN
        self.ip = ip if up else None
        self.changed()

    def set_registered(self, registered):
        self.registered = bool(registered)
        if registered:
            self.registration_error = None
        self.changed()

    def set_transport(self, transport):
        self.transport = transport
        self.changed()

    def set_public(self, hostport):
        self.public = hostport
        self.changed()

    def set_registration_error(self, reason):
        """The provider cannot be reached, with the reason (``network: tls: certificate verify
        failed: ...``); a later registration clears it."""
        self.registration_error = reason
        self.changed()

    def set_config_error(self, key, message, fallback=False):
        """A refused config: KEY at fault and MESSAGE; FALLBACK when the last good config is in use
        instead (:mod:`zerotap.lastgood`). KEY None clears the error."""
        self.config_error = None if key is None else (key, message)
        self.config_fallback = bool(fallback) and key is not None
        self.changed()

    def as_dict(self):
        """The box's own state (the calls aside), as the status stream and the control show it."""
        return {"network": self.network, "ip": self.ip, "registered": self.registered,
                "transport": self.transport, "public": self.public,
                "registration_error": self.registration_error, "warning": self.warning,
                "config_error": list(self.config_error) if self.config_error else None,
                "config_fallback": self.config_fallback}

    def set_warning(self, message):
        self.warning = message
        self.changed()

    def new_call(self, call, direction, peer):
        status = CallStatus(self, call, direction, peer)
        self.calls.append(status)
        self.changed(status)
        return status

    def end_call(self, status):
        status.state = ENDED
        if status in self.calls:
            i = self.calls.index(status)
            self.calls.remove(status)
            if i < self.selected:  # a call before the shown one: the shown one stays shown
                self.selected -= 1
        if self.selected >= len(self.calls):
            self.selected = 0
        self.changed(status)

    def shown_call(self):
        if not self.calls:
            return None
        return self.calls[self.selected % len(self.calls)]

    def show(self, call):
        """CALL on the panel: a warning (a cache mismatch, an alarm) is not left behind another
        call's calm screen."""
        if call in self.calls:
            self.selected = self.calls.index(call)

    def select_next(self):
        if len(self.calls) > 1:
            self.selected = (self.selected + 1) % len(self.calls)
            self.changed(self.shown_call())
