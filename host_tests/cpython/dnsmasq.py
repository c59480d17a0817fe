"""A real DNS server for tests: dnsmasq (Debian package ``dnsmasq``) with local records only.

    d = Dnsmasq(tmp_path, port=ports.udp_port(), records=[
            "naptr-record=example.test,10,50,s,SIP+D2T,,_sip._tcp.example.test",
            "srv-host=_sip._tcp.example.test,sip1.example.test,5060,10,60",
            "host-record=sip1.example.test,192.0.2.10"]).start()
    ...                                   # ask 127.0.0.1:PORT (or LISTEN)
    d.stop()                              # by PID

It answers only from RECORDS (``--no-resolv --no-hosts``, no upstream), NXDOMAIN for any other
name under ``.test``, with the TTL ``ttl`` (``--local-ttl``). It runs in the foreground and logs
every query to its log file.

``python host_tests/cpython/dnsmasq.py`` records the answers that the firmware tests replay
(host_tests/vectors/dns_dnsmasq.json): for each question, the random bytes that made the query
(so that a test rebuilds the very same query), the query, dnsmasq's answer, and the records the
configuration says the answer must hold.
"""
import json
import socket
import subprocess
import sys
from pathlib import Path

from hostenv import need, stop_process, text_of, wait_until

HERE = Path(__file__).resolve().parent


class Dnsmasq:
    def __init__(self, directory, port, records, listen="127.0.0.1", ttl=60):
        self.dir = Path(directory)
        self.port = port
        self.records = list(records)
        self.listen = listen
        self.ttl = ttl
        self.proc = None
        self.log = self.dir / "dnsmasq.log"

    def command(self):
        exe = need("dnsmasq", "the Debian package dnsmasq")
        return [exe, "--keep-in-foreground", "--port=%d" % self.port,
                "--listen-address=%s" % self.listen, "--bind-interfaces", "--no-resolv",
                "--no-hosts", "--conf-file=/dev/null", "--pid-file=", "--log-facility=-",
                "--log-queries", "--local=/test/", "--local-ttl=%d" % self.ttl,
                "--user=root"] + ["--" + r for r in self.records]

    def start(self, prefix=(), timeout=10):
        """Start it (PREFIX: e.g. ``ip netns exec NAME``) and wait until it answers."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(list(prefix) + self.command(), stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "wb"))
        if wait_until(lambda: "started, version" in text_of(self.log), timeout, self.proc):
            return self
        self.stop()
        raise AssertionError("dnsmasq did not start: %s" % text_of(self.log)[-2000:])

    def log_text(self):
        return text_of(self.log)

    def stop(self):
        stop_process(self.proc)


# --- recording the vectors the firmware tests replay ------------------------------------------
RECORDS = [
    "naptr-record=example.test,10,50,s,SIP+D2T,,_sip._tcp.example.test",
    "naptr-record=example.test,20,50,s,SIP+D2U,,_sip._udp.example.test",
    "naptr-record=example.test,30,50,s,SIPS+D2T,,_sips._tcp.example.test",
    "srv-host=_sip._tcp.example.test,sip1.example.test,5060,10,60",
    "srv-host=_sip._tcp.example.test,sip2.example.test,5070,20,0",
    "srv-host=_sip._udp.example.test,sip1.example.test,5060,10,0",
    "srv-host=_sips._tcp.example.test,sip1.example.test,5061,10,0",
    "host-record=sip1.example.test,192.0.2.10",
    "host-record=sip2.example.test,192.0.2.11,2001:db8::11",
]
EXPECT = {  # what RECORDS put in each answer (the config above, by hand)
    ("example.test", "NAPTR"): [[10, 50, "s", "SIP+D2T", "", "_sip._tcp.example.test"],
                                [20, 50, "s", "SIP+D2U", "", "_sip._udp.example.test"],
                                [30, 50, "s", "SIPS+D2T", "", "_sips._tcp.example.test"]],
    ("_sip._tcp.example.test", "SRV"): [[10, 60, 5060, "sip1.example.test"],
                                        [20, 0, 5070, "sip2.example.test"]],
    ("_sip._udp.example.test", "SRV"): [[10, 0, 5060, "sip1.example.test"]],
    ("_sips._tcp.example.test", "SRV"): [[10, 0, 5061, "sip1.example.test"]],
    ("sip1.example.test", "A"): ["192.0.2.10"],
    ("sip2.example.test", "A"): ["192.0.2.11"],
    ("sip2.example.test", "AAAA"): ["2001:db8::11"],
    ("sip1.example.test", "AAAA"): [],  # NODATA
    ("nothere.example.test", "A"): [],  # NXDOMAIN
    ("example.test", "SRV"): [],
}


def record(out_path):
    import os
    import tempfile
    sys.path.insert(0, str(HERE.parents[1] / "firmware"))
    from zerotap import dns
    from ports import udp_port
    types = {"A": dns.A, "AAAA": dns.AAAA, "SRV": dns.SRV, "NAPTR": dns.NAPTR}
    with tempfile.TemporaryDirectory() as tmp:
        d = Dnsmasq(tmp, udp_port(), RECORDS, ttl=300).start()
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3)
            cases = []
            for (name, tname), expect in EXPECT.items():
                used = []

                def rand(n):
                    b = os.urandom(n)
                    used.append(b.hex())
                    return b
                q = dns.make_query(name, types[tname], rand)
                s.sendto(q.data, ("127.0.0.1", d.port))
                answer, _ = s.recvfrom(4096)
                cases.append({"name": name, "type": tname, "rand": used, "query": q.data.hex(),
                              "answer": answer.hex(), "expect": expect})
        finally:
            d.stop()
    doc = {"source": "dnsmasq 2.90 (Debian), records: " + "; ".join(RECORDS) +
           "; --local=/test/ --local-ttl=300", "cases": cases}
    Path(out_path).write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    record(HERE.parent / "vectors" / "dns_dnsmasq.json")
