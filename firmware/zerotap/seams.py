"""The joints of the box, written down: what the proxy, the media session, the secure leg and the
runtime promise each other. Each seam is a small base class; the real parts and the tests' fakes
subclass it, so that a part that drifts from its seam fails loudly (a method the base leaves
abstract raises NotImplementedError) instead of being probed with ``hasattr``.

    Proxy (zerotap.sip.proxy) --open(call_status)--> MediaFactory      (runtime.box.MediaFactory)
                                                   -> CallMedia          (runtime.box.CallMedia)
    CallMedia owns a zerotap.media.MediaSession, which drives
                                                      SecureLeg          (media.ZrtpLeg)
    made for each call by                             SecureFactory      (runtime.secure.SecureFactory,
                                                                          or ClearFactory: no ZRTP)

:func:`abstract` lists what a class still leaves to its base (a test checks the real classes and
the fakes with it). The abstract methods share one function, so that the seams cost little heap
on a board; their signatures are in the class docstrings. Sides are 0 (the phone) and 1 (the
network), as in :mod:`zerotap.sip.proxy`.
"""


def _todo(self, *args, **kw):
    raise NotImplementedError("%s leaves a method of its seam unfilled (zerotap.seams.abstract "
                              "tells which)" % type(self).__name__)


class MediaFactory:
    """Opens the media of a call; the proxy holds one (``Proxy(cfg, media_factory, ...)``).

    ``open(call_status)`` returns a :class:`CallMedia` for the call whose status model
    (``zerotap.status.CallStatus``) is CALL_STATUS, or raises OSError when no media ports are
    free (the proxy then refuses the call)."""

    open = _todo


class CallMedia:
    """The media of one call, as the proxy sees it. The proxy calls, in this order:

    - ``ports(side) -> (rtp, rtcp)``: the box's local ports toward SIDE, for the SDP it forwards;
    - ``hello_hash()``: our ``a=zrtp-hash`` value (``"1.10 <hex>"``) for the SDP toward the
      network, or None (clear mode);
    - ``set_remote(side, host, port, rtcp_port=None, event_types=None)``: where SIDE's media goes,
      from its SDP (HOST None: on hold); EVENT_TYPES are the payload types that SDP mapped to
      telephone-event;
    - ``set_peer_hash(value)``: the peer's ``a=zrtp-hash`` as ``(version, hex)``, or None;
    - ``answered(now_ms)``: the call was answered (or early media began): start ZRTP;
    - ``dialog(tag, now_ms)``: forking: what follows (an SDP, the answer) is of the early dialog
      whose callee's tag is TAG (its own media session, issue 14); ``confirmed(tag, now_ms)``:
      the 2xx of dialog TAG won, the other dialogs' media is closed. No-ops by default;
    - ``close()``: the call ended; release the sockets. Called once."""

    ports = _todo

    def hello_hash(self):
        return None

    def dialog(self, tag, now_ms=None):
        pass

    def confirmed(self, tag, now_ms=None):
        pass

    set_remote = _todo

    def set_peer_hash(self, value):
        pass

    def answered(self, now_ms):
        pass

    close = _todo


class SecureLeg:
    """ZRTP and SRTP on a call's network paths, driven by ``zerotap.media.MediaSession``.

    State the session reads (plain attributes, kept current by the leg):
    ``is_secure`` (SRTP both ways), ``secure_at`` (``now_ms`` of SECURE), ``can_unprotect`` (a
    receive context exists: from the initiator's Sas event on), ``failed``.

    - ``bind(session)``: the session whose ``send_zrtp(packet)`` carries the leg's packets (to
      the active path's RTP address) and whose ``rtp_remote()`` says whether that is known;
    - ``hello_hash()``, ``set_peer_hash(value)``: as in :class:`CallMedia`;
    - ``start(now_ms)``: begin ZRTP (Hellos) once the peer's media address is known;
    - ``receive_zrtp(buf, n, now_ms)``: a ZRTP packet BUF[:N] from the network;
    - ``timer() -> ms or None``, ``handle_timer(now_ms)``: the next deadline, and running it;
    - ``protect(buf, n, rtcp) -> n``: SRTP/SRTCP in place (BUF has room for the trailer);
      n <= 0 on failure;
    - ``unprotect(buf, n, rtcp, now_ms) -> n``: in place; ``UNPROTECT_FAILED`` (0),
      ``UNPROTECT_REPLAY`` (-2) or ``UNPROTECT_REFUSED`` (-3: authentic, but its SSRC is one
      too many) of :mod:`zerotap.media` when the packet must be dropped;
    - ``set_verified(verified)``: the user compared the SAS (or takes it back);
    - ``close()``: forget the keys."""

    is_secure = False
    secure_at = 0
    can_unprotect = False
    failed = False

    bind = hello_hash = set_peer_hash = start = receive_zrtp = timer = handle_timer = _todo
    protect = unprotect = set_verified = close = _todo


class SecureFactory:
    """Makes each call's :class:`SecureLeg`; the runtime holds one for its whole life.

    - ``leg(call_status, call_media) -> SecureLeg or None`` (None: the call runs in clear);
    - ``warning``: text the box shows and logs at start (e.g. an unreadable trust cache), or None;
    - ``on_warning``: set by the box to a function of one text, for warnings that come later (a
      trust cache write that failed: the call stays SECURE, the box shows the warning);
    - ``step_pool() -> bool``: one bounded slice of idle work (key pairs made before calls); the
      runtime calls it only while no call has media, as long as it returns True;
    - ``close()``: at shutdown, after every call's media is closed (write the trust cache)."""

    warning = None
    on_warning = None

    leg = _todo

    def step_pool(self):
        return False

    def close(self):
        pass


class ClearFactory(SecureFactory):
    """No ZRTP at all: every call runs in clear (a box started without a secure factory)."""

    def leg(self, call_status, call_media):
        return None


def abstract(cls):
    """The names of the methods CLS still leaves to its seam base, sorted: empty for a class that
    fills its seam."""
    return sorted(n for n in dir(cls) if getattr(cls, n) is _todo)
