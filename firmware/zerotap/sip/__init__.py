"""SIP for the box: messages (RFC 3261), URIs, header field values and SDP (RFC 8866).

- :mod:`zerotap.sip.message`: ``parse(datagram)`` -> Request | Response, header editing,
  ``serialize()``, ``make_response()``; ``ParseError`` says whether a 400/505 is due.
- :mod:`zerotap.sip.headers`: Via, name-addr/addr-spec (``Address``), CSeq.
- :mod:`zerotap.sip.uri`: sip/sips/tel URIs (and opaque other schemes).
- :mod:`zerotap.sip.sdp`: session descriptions, media sections, attributes.

All of it is sans-IO and runs unchanged on CPython and MicroPython.
"""
