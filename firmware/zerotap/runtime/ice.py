"""Drive a sans-IO ICE core (zerotap.ice.agent.Agent, or a bare turn.TurnClient) over one real
UDP socket of a :class:`zerotap.runtime.udp.Loop`.

    loop = udp.Loop()
    d = Driver(loop, "0.0.0.0", 0, agent)         # binds the socket
    agent.gather([("192.168.1.5", d.port)], loop.clock())
    d.flush(loop.clock())
    run(loop, [d], lambda: agent.selected is not None, 5000)

Every datagram goes to ``core.receive(data, addr, now)``; what it returns that is not None
(application data) goes to ``on_data(got)``; events go to ``on_event(ev)`` and are kept in
``events``. ``flush`` sends what the core asks for. This is the only ICE code that touches a
socket or the clock.
"""
from zerotap.runtime import udp


class Driver:
    def __init__(self, loop, host, port, core, on_data=None, on_event=None):
        self.loop = loop
        self.core = core
        self.on_data = on_data
        self.on_event = on_event
        self.events = []
        self.ep = loop.open(host, port, self._datagram)
        self.port = port
        if port == 0 and hasattr(self.ep.sock, "getsockname"):
            self.port = self.ep.sock.getsockname()[1]

    def _datagram(self, ep, data, n, addr, now):
        got = self.core.receive(bytes(memoryview(data)[:n]), addr, now)
        if got is not None and self.on_data is not None:
            self.on_data(got)
        self.flush(now)

    def flush(self, now):
        for data, addr in self.core.datagrams_to_send():
            self.ep.send(data, addr)
        ev = self.core.next_event()
        while ev is not None:
            self.events.append(ev)
            if self.on_event is not None:
                self.on_event(ev)
            ev = self.core.next_event()

    def timer(self):
        return self.core.timer()

    def handle_timer(self, now):
        self.core.handle_timer(now)
        self.flush(now)

    def event(self, kind):
        for ev in self.events:
            if ev[0] == kind:
                return ev
        return None

    def close(self):
        self.ep.close()


def run(loop, drivers, done, timeout_ms, max_wait_ms=50):
    """Serve the DRIVERS' sockets and timers until DONE() is true (then True) or TIMEOUT_MS
    pass (then False)."""
    end = loop.clock() + timeout_ms
    while True:
        if done():
            return True
        now = loop.clock()
        if now >= end:
            return False
        wait = min(max_wait_ms, end - now)
        for d in drivers:
            t = d.timer()
            if t is not None:
                wait = min(wait, max(0, t - now))
        loop.run_once(wait)
        now = loop.clock()
        for d in drivers:
            t = d.timer()
            if t is not None and t <= now:
                d.handle_timer(now)


__all__ = ["Driver", "run", "udp"]
