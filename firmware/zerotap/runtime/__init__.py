"""The host runtime: sockets, the clock, the event loop and the wiring of the protocol cores.

Nothing else in ``zerotap`` touches a socket or reads the clock. :mod:`zerotap.runtime.udp` is the
UDP wait helper (``select.poll``) that serves CPython, the MicroPython unix port and boards alike;
:mod:`zerotap.runtime.box` wires config, proxy, media sessions, status stream and control onto it.
"""
