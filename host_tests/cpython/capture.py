"""Proof from the wire: dumpcap on loopback with a capture filter, then tshark decoding the media
ports as RTP (tshark hands packets with the ZRTP cookie to its ZRTP dissector).

    cap = Capture(tmp_path / "call.pcapng", ports=[5070, 40000, 40001]).start()
    ...                                    # the call
    cap.stop()
    pkts = cap.packets(media_ports=[40000, 40001, 42000, 42001])
    [p for p in pkts if p.kind == "zrtp" and p.zrtp_type == "Conf2ACK"]

Each packet is a :class:`Packet`: time, src/dst port, kind (``zrtp``, ``rtp``, ``rtcp``,
``stun``, ``sip`` or ``udp``), and for RTP the SSRC, sequence number and payload bytes.
Several engineers capture on loopback at once: the filter names the test's own ports only.
"""
import signal
import subprocess
import time
from pathlib import Path

from hostenv import need, stop_process, text_of, wait_until

FIELDS = ("frame.number", "frame.time_relative", "udp.srcport", "udp.dstport", "udp.length",
          "_ws.col.Protocol", "zrtp.type", "rtp.ssrc", "rtp.seq", "rtp.p_type", "rtp.payload",
          "rtcp.pt", "stun.type", "sip.Method", "sip.Status-Code", "rtp.timestamp", "rtp.marker")


class Packet:
    def __init__(self, row):
        (num, t, sport, dport, ulen, proto, ztype, ssrc, seq, pt, payload, rtcp_pt, stun, method,
         status, timestamp, marker) = row
        self.number = int(num)
        self.time = float(t)
        self.src = int(sport) if sport else None
        self.dst = int(dport) if dport else None
        self.length = int(ulen) - 8 if ulen else 0  # UDP payload bytes
        self.protocol = proto
        self.zrtp_type = ztype.strip() or None
        self.ssrc = int(ssrc, 16) if ssrc else None
        self.seq = int(seq) if seq else None
        self.pt = int(pt) if pt else None
        self.timestamp = int(timestamp) if timestamp else None
        self.marker = marker in ("1", "True", "true")
        self.payload = bytes.fromhex(payload.replace(":", "")) if payload else b""
        if ztype:
            self.kind = "zrtp"
        elif stun:
            self.kind = "stun"
        elif rtcp_pt:
            self.kind = "rtcp"
        elif ssrc:
            self.kind = "rtp"
        elif method or status:
            self.kind = "sip"
        else:
            self.kind = "udp"

    def ports(self):
        return (self.src, self.dst)

    def __repr__(self):
        return "<%s %s %d->%d %s>" % (self.number, self.kind, self.src or 0, self.dst or 0,
                                      self.zrtp_type or self.seq)


class Capture:
    def __init__(self, path, ports, interface="lo", ranges=()):
        self.path = Path(path)
        self.ports = sorted(set(ports))
        self.ranges = list(ranges)  # (low, high) port ranges
        self.interface = interface
        self.proc = None

    def start(self, timeout=10):
        dumpcap = need("dumpcap", "the Debian package tshark")
        terms = ["port %d" % p for p in self.ports]
        terms += ["portrange %d-%d" % r for r in self.ranges]
        flt = "udp and (%s)" % " or ".join(terms)
        if self.path.exists():
            self.path.unlink()
        self._err = self.path.with_suffix(".dumpcap.log")
        self.proc = subprocess.Popen([dumpcap, "-i", self.interface, "-f", flt, "-w",
                                      str(self.path)], stdout=subprocess.DEVNULL,
                                     stderr=open(self._err, "wb"))
        # dumpcap says "File: ..." once it captures
        if wait_until(lambda: "File:" in text_of(self._err), timeout, self.proc):
            return self
        self.stop()
        raise AssertionError("dumpcap did not start: %s" % text_of(self._err))

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        time.sleep(0.3)  # let the last packets reach the file
        stop_process(self.proc, signal.SIGINT)

    def packets(self, media_ports=(), sip_ports=()):
        """Every captured packet, decoding MEDIA_PORTS as RTP (so ZRTP and RTCP too) and SIP_PORTS
        as SIP."""
        tshark = need("tshark", "the Debian package tshark")
        args = [tshark, "-r", str(self.path), "-n", "-T", "fields", "-E", "separator=\t",
                "-E", "occurrence=f"]
        for p in media_ports:
            if isinstance(p, tuple):
                args += ["-d", "udp.port==%d-%d,rtp" % p]
            else:
                args += ["-d", "udp.port==%d,rtp" % p]
        for p in sip_ports:
            args += ["-d", "udp.port==%d,sip" % p]
        for f in FIELDS:
            args += ["-e", f]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        out = []
        for line in r.stdout.splitlines():
            row = line.split("\t")
            row += [""] * (len(FIELDS) - len(row))
            out.append(Packet(row[:len(FIELDS)]))
        return out


ZRTP_EXCHANGE = ("Hello", "Commit", "DHPart1", "DHPart2", "Confirm1", "Confirm2", "Conf2ACK")


class LegReport:
    """What the wire says about one secure call: the phone legs against the network leg.

    - ``zrtp_network``: the ZRTP message types seen on the network leg;
    - ``zrtp_phone``: ZRTP packets seen on a phone leg (must be 0);
    - ``matched``: network RTP packets whose twin (same SSRC and sequence number) was seen on a
      phone leg, where it is plain by definition;
    - ``plain_after``: of those, after the last Conf2ACK, how many carry the same payload bytes as
      their plain twin (plaintext on the network leg: must be 0), or lack the SRTP tag;
    - ``srtp_before``: encrypted twins before the first Confirm2 (SRTP before ZRTP: must be 0).
    """

    def __init__(self, packets, phone_ports, network_test):
        phone = [p for p in packets if p.src in phone_ports or p.dst in phone_ports]
        network = [p for p in packets if network_test(p)]
        self.zrtp_phone = len([p for p in phone if p.kind == "zrtp"])
        zrtp = [p for p in network if p.kind == "zrtp"]
        self.zrtp_network = sorted(set(p.zrtp_type for p in zrtp))
        confirm2 = [p.time for p in zrtp if p.zrtp_type == "Confirm2"]
        conf2ack = [p.time for p in zrtp if p.zrtp_type == "Conf2ACK"]
        self.confirm2 = min(confirm2) if confirm2 else None
        self.conf2ack = max(conf2ack) if conf2ack else None
        plain = {}
        for p in phone:
            if p.kind == "rtp":
                plain[(p.ssrc, p.seq)] = p
        self.matched = self.plain_after = self.srtp_before = self.srtp = 0
        for p in network:
            if p.kind != "rtp":
                continue
            q = plain.get((p.ssrc, p.seq))
            if q is None:
                continue
            self.matched += 1
            n = len(q.payload)
            encrypted = p.length >= q.length + 4 and p.payload[:n] != q.payload
            if encrypted:
                self.srtp += 1
                if self.confirm2 is None or p.time < self.confirm2:
                    self.srtp_before += 1
            elif self.conf2ack is not None and p.time > self.conf2ack + 0.05:
                self.plain_after += 1

    def complete_exchange(self):
        return all(t in self.zrtp_network for t in ZRTP_EXCHANGE)

    def proves_secure(self, min_matched=100):
        return (self.complete_exchange() and self.zrtp_phone == 0 and self.srtp_before == 0
                and self.plain_after == 0 and self.matched >= min_matched and self.srtp > 0)

    def __repr__(self):
        return ("LegReport(zrtp on the network leg=%s, zrtp on phone legs=%d, matched=%d, "
                "srtp=%d, plain after Conf2ACK=%d, srtp before Confirm2=%d)"
                % (self.zrtp_network, self.zrtp_phone, self.matched, self.srtp, self.plain_after,
                   self.srtp_before))
