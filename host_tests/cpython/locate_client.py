"""One RFC 3263 location and a connection with failover, under either interpreter (the dnsmasq
tests start it).

    micropython locate_client.py DNS_PORT[,DNS_PORT...] DOMAIN [secure] [locate-only]

Locates DOMAIN through the resolvers at 127.0.0.1:DNS_PORT (or HOST@DNS_PORT), in order
(zerotap.runtime.resolver), then
connects to the targets in order over TCP (zerotap.runtime.stream) until one opens, sending an
OPTIONS on it; UDP targets are skipped (noted). Prints one JSON line: the targets, every
attempt with its outcome, the first line of the answer, and a second location's targets (from
the cache).
"""
import json
import sys

from zerotap.runtime import resolver, stream, udp


def main(argv):
    servers = []
    for item in argv[0].split(","):
        host, _, port = item.rpartition("@")
        servers.append((host or "127.0.0.1", int(port)))
    domain = argv[1]
    secure = "secure" in argv[2:]
    connect = "locate-only" not in argv[2:]
    loop = udp.Loop()
    res = resolver.Resolver(loop, servers)
    streams = stream.Streams(loop)
    out = {"targets": None, "attempts": [], "answer": None, "cached": None, "error": None}
    state = {"loc": None}

    def try_next(loc, now):
        t = loc.current()
        while t is not None and t.transport == "UDP":
            out["attempts"].append([t.transport, t.host, t.port, "skipped: UDP"])
            t = loc.failed(now, "skipped")
        if t is None:
            out["error"] = loc.error
            loop.stop()
            return
        c = streams.connect(t.host, t.port, handler)
        c.send(b"OPTIONS sip:%s SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
               b"Content-Length: 0\r\n\r\n" % domain.encode())

    def handler(conn, kind, data, now):
        loc = state["loc"]
        if kind == stream.MESSAGE:
            out["attempts"].append(["TCP", conn.peer[0], conn.peer[1], "answered"])
            out["answer"] = data.split(b"\r\n", 1)[0].decode()
            conn.close()
            res.locate(cached, domain, secure=secure)
        elif kind == stream.CLOSED_EVENT and out["answer"] is None:
            out["attempts"].append(["TCP", conn.peer[0], conn.peer[1], data])
            loc.failed(now, data)
            try_next(loc, now)

    def cached(loc, targets):
        out["cached"] = [[t.transport, t.host, t.port] for t in targets]
        loop.stop()

    def done(loc, targets):
        out["targets"] = [[t.transport, t.host, t.port, t.server_name] for t in targets]
        if not targets or not connect:
            out["error"] = loc.error
            loop.stop()
            return
        try_next(loc, loop.clock())

    state["loc"] = res.locate(done, domain, secure=secure)
    t0 = loop.clock()

    class Deadline:
        def timer(self):
            return t0 + 20000

        def handle_timer(self, now):
            out["error"] = "deadline"
            loop.stop()
    loop.run(Deadline())
    out["dns_queries_refused"] = res.client.refused
    res.close()
    streams.close_all()
    loop.close_all()
    print(json.dumps(out))


main(sys.argv[1:])
