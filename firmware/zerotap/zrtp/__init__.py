"""ZRTP (RFC 6189): media-path key agreement for SRTP, with a short authentication string.

- :mod:`zerotap.zrtp.packets`: parse and build every ZRTP message, byte for byte.
- :mod:`zerotap.zrtp.algorithms`: the algorithm names, their properties, and Hello negotiation.
- :mod:`zerotap.zrtp.keys`: the KDF and everything derived from s0 (RFC 6189 sections 4.4-4.6).
- :mod:`zerotap.zrtp.sas`: SAS renderings B32 and B256.
- :mod:`zerotap.zrtp.cache`: the trust cache (our ZID, retained secrets per peer ZID).
- :mod:`zerotap.zrtp.engine`: the sans-IO protocol engine the media session drives.
"""
