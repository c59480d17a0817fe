"""What the ZRTP engine tells its driver (:mod:`zerotap.zrtp.engine`), one class per event.

Each event is built with an explicit constructor from plain values; the driver tells them apart
by type (``isinstance(ev, Secure)``), never by class name. In the order they come:

- :class:`Sas`: the SAS is known. At the initiator it comes when Confirm1 is verified, before
  :class:`Secure`; it already carries the SRTP keys, so the box may install its *receive*
  context (the responder starts sending SRTP after its Conf2ACK). Never for multistream.
- :class:`Secure`: SRTP may be used both ways (the same fields as :class:`Sas`).
  ``ev.status()`` gives the arguments of ``CallStatus.set_secure``.
- :class:`Error`: an Error message sent or received (RFC 6189 section 5.9), a timeout, or a check
  that failed. ``fatal`` says whether the exchange is over (state ``failed``).
- :class:`PeerCleared`: the peer sent a valid GoClear; ``accepted`` tells whether policy let us
  go clear (default: refused with Error 0x100, SRTP stays on).
- :class:`NoPeer`: our Hellos went unanswered; the engine keeps listening.
"""


class Event:
    def __repr__(self):
        return "<%s %s>" % (type(self).__name__, self.__dict__)


class Keyed(Event):
    """What :class:`Sas` and :class:`Secure` carry:

    ``role`` ("initiator"/"responder"), ``ssrc``, ``multistream``, ``profile`` (SRTP profile name
    such as ``AES_CM_128_HMAC_SHA1_80``), ``local_key``, ``local_salt`` (we protect with these),
    ``remote_key``, ``remote_salt`` (we unprotect with these), ``sas``, ``sas_type``
    ("B32"/"B256"), ``hash``, ``cipher``, ``auth``, ``ka`` (names such as "S256", "AES1",
    "HS80", "DH3k"), ``peer_zid`` (hex), ``cache`` ("new"/"match"/"mismatch") and ``verified``
    (both sides had marked the SAS)."""

    def __init__(self, role, ssrc, multistream, profile, local_key, local_salt, remote_key,
                 remote_salt, sas, sas_type, hash, cipher, auth, ka, peer_zid, cache, verified):
        self.role = role
        self.ssrc = ssrc
        self.multistream = multistream
        self.profile = profile
        self.local_key = local_key
        self.local_salt = local_salt
        self.remote_key = remote_key
        self.remote_salt = remote_salt
        self.sas = sas
        self.sas_type = sas_type
        self.hash = hash
        self.cipher = cipher
        self.auth = auth
        self.ka = ka
        self.peer_zid = peer_zid
        self.cache = cache
        self.verified = verified

    def status(self):
        """Keyword arguments for ``CallStatus.set_secure``."""
        return {"sas": self.sas, "sas_type": self.sas_type, "hash": self.hash, "cipher": self.cipher,
                "auth": self.auth, "ka": self.ka, "peer_zid": self.peer_zid, "cache": self.cache,
                "verified": self.verified}


class Sas(Keyed):
    """The SAS is known (and the SRTP material, so that the receive context can be installed
    early). See :class:`Keyed` for the fields."""


class Secure(Keyed):
    """SRTP may run both ways. See :class:`Keyed` for the fields."""


class Error(Event):
    """``code`` (RFC 6189 section 5.9, or None), ``reason`` (text), ``sent`` (we sent an Error
    message), ``received`` (the peer sent one), ``fatal`` (the exchange is over)."""

    def __init__(self, code, reason, sent=False, received=False, fatal=True):
        self.code = code
        self.reason = reason
        self.sent = sent
        self.received = received
        self.fatal = fatal


class PeerCleared(Event):
    """The peer sent a valid GoClear. ``accepted``: we went clear (policy ``allow_clear``)."""

    def __init__(self, accepted):
        self.accepted = accepted


class NoPeer(Event):
    """Our Hellos went unanswered (``hellos`` sent). The engine keeps listening."""

    def __init__(self, hellos):
        self.hellos = hellos
