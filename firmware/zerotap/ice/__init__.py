"""zerotap.ice: STUN (RFC 8489), a TURN client (RFC 8656, UDP), a full ICE agent (RFC 8445, one
stream, component 1) with consent freshness (RFC 7675), and the ZSipOs offer JSON.

Every module is sans-IO: bytes, addresses ``(ip, port)`` and ``now_ms`` go in; datagrams,
deadlines and events come out; randomness is a function ``rand(n) -> n bytes`` passed in. No
socket and no clock: ``zerotap.runtime.ice`` drives an agent over one real UDP socket.
docs/ice.md describes the package and its decisions.
"""
