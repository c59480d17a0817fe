"""The ICE fallback's lab: two sites behind NAT and an "internet" with a real provider, in network
namespaces that a test makes and removes (also on failure). No namespace has a link to the root
namespace; the "public" segments are TEST-NET addresses.

    a    10.77.1.2/24, gw 10.77.1.1         site A: box A (CPython) and the plain phone alice
    na   10.77.1.1 | 203.0.113.1/24         site A's NAT (masquerade; "random": symmetric)
    b    10.77.2.2/24, gw 10.77.2.1         site B: box B (MicroPython) and the plain phone bob;
                                            carol, a plain phone without a box
    nb   10.77.2.1 | 198.51.100.1/24        site B's NAT
    net  203.0.113.2/24 and 198.51.100.2/24 the internet: forwards between the NATs; the provider
                                            (Kamailio as proxy and registrar, rtpengine anchoring
                                            the media), coturn, the helper with Redis

Each NAT drops unsolicited packets from outside (a port-restricted cone, as a home router);
``set_symmetric`` gives a site a new mapping per destination. ``block_zrtp`` is the provider's
rule against ZRTP: UDP to rtpengine's ports whose payload carries the cookie 0x5A525450 at
offset 4. ``provider_loss`` drops a share of the provider path's packets (nftables ``numgen``:
this kernel has no ``netem`` qdisc). Names are ``zt<pid>-<k>`` (at most 15 characters).

:class:`World` starts the parts (each stopped by PID, also on failure) and places calls::

    with FallbackLab() as lab:
        w = World(lab, tmp_dir).start()
        try:
            c = w.call("bob")            # alice -> box A -> Kamailio/rtpengine -> box B -> bob
            c.wait_both_secure(); ...; w.hang_up(c)
        finally:
            w.stop()
"""
import bisect
import json
import subprocess
import sys
import threading
import time

from boxproc import BoxProcess
from hostenv import ROOT, need, stop_process, text_of, wait_until
from icehelper_proc import Helper
from kamailio_provider import Provider
from linphone import Linphone
from netlab import Namespaces
from testca import TestCA

SITES = {"a": ("10.77.1.2", "10.77.1.1", "203.0.113.1", "203.0.113.2"),
         "b": ("10.77.2.2", "10.77.2.1", "198.51.100.1", "198.51.100.2")}
NET = "203.0.113.2"  # the provider, coturn and the helper
DOMAIN = "sip.example.test"
USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
RTP_MIN, RTP_MAX = 30720, 30975  # rtpengine's ports: 0x7800/0xff00
NG_PORT = 2223
HELPER_PORT = 8443
REDIS_PORT = 6390
TURN_SECRET = "lab-turn-secret"
AFTER_S = 3
DEADLINE_S = 10
# start_capture's probes, from port 9 to port 9 (discard): NET:9 -> site A's NAT:9 in "net" (the
# NAT drops them), and with box_side also 127.0.0.1:9 -> 127.0.0.1:9 on lo in site A's namespace
# (to the prober's own socket, which never reads)
PROBE_PORT = 9
# the probe sender, run in "net" or site A: argv = source address, destination address, token;
# at most 15 s
_PROBE = ("import socket, sys, time\n"
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
          "s.bind((sys.argv[1], %d))\n"
          "for i in range(300):\n"
          "    s.sendto(sys.argv[3].encode(), (sys.argv[2], %d))\n"
          "    time.sleep(0.05)\n" % (PROBE_PORT, PROBE_PORT))


class FallbackLab(Namespaces):
    KEYS = ("a", "na", "b", "nb", "net")

    def __init__(self, symmetric=False):
        Namespaces.__init__(self)
        self.symmetric = symmetric

    def _make(self):
        self._add_all()
        for site, nat in (("a", "na"), ("b", "nb")):
            self._site(site, nat, "net", *SITES[site])
            self.set_symmetric(site, self.symmetric)
        self.run("net", ["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)

    def set_symmetric(self, site, symmetric):
        """Site's NAT: masquerade with ports preserved where free (port-restricted cone), or
        ``random`` (a new port per new flow: symmetric). Unsolicited packets from outside are
        dropped before their conntrack entry is confirmed, as a home router does: otherwise such
        an entry takes the port that the box's own later packets would be mapped to. Mappings
        that exist stay as they are (the SIP flows)."""
        nat = "na" if site == "a" else "nb"
        self.run(nat, ["nft", "delete", "table", "ip", "zt_nat"])
        self.nft(nat, "table ip zt_nat {\n  chain post {\n    type nat hook postrouting "
                      "priority srcnat;\n    oifname \"wan\" masquerade%s;\n  }\n"
                      "  chain in {\n    type filter hook input priority filter;\n"
                      "    iifname \"wan\" ct state new drop;\n  }\n"
                      "  chain sip {\n    type filter hook prerouting priority mangle;\n"
                      "    meta l4proto { udp, tcp } th dport 5060 ct mark set 1;\n  }\n}\n"
                 % (" random" if symmetric else ""))
        self.forget_media_flows(nat)

    def forget_media_flows(self, nat):
        """Delete the NAT's conntrack entries except the SIP flows (marked 1 by the NAT's
        ``sip`` chain): the mappings of earlier calls' media and ICE flows (the box's ICE
        socket is the same port in every call) would otherwise outlive a change of the NAT's
        behaviour. A ctnetlink flush filtered by mark (this machine has no conntrack tool)."""
        code = ("import socket, struct\n"
                "s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)\n"
                "attrs = struct.pack('=HH', 8, 8) + "
                "struct.pack('!I', 0) + struct.pack('=HH', 8, 21) + struct.pack('!I', 1)\n"
                "body = struct.pack('=BBH', socket.AF_INET, 0, 0) + attrs\n"
                "s.send(struct.pack('=IHHII', 16 + len(body), (1 << 8) | 2, 1 | 4, 1, 0) + body)\n"
                "ack = s.recv(4096)\n"
                "err = struct.unpack('=i', ack[16:20])[0]\n"
                "assert err == 0, err\n")
        out = self.run(nat, [sys.executable, "-c", code])
        if out.returncode != 0:
            raise AssertionError("conntrack flush in %s: %s" % (nat, out.stderr))

    def block_zrtp(self, on=True):
        """The provider drops UDP to rtpengine's ports whose payload carries the ZRTP cookie at
        offset 4; the direct path between the sites is forwarded, not filtered."""
        self.run("net", ["nft", "delete", "table", "inet", "zt_prov"])
        if on:
            self.nft("net", "table inet zt_prov {\n  chain in {\n    type filter hook input "
                            "priority filter;\n    udp dport %d-%d udp length > 20 "
                            "@th,96,32 0x5a525450 counter drop\n  }\n}\n" % (RTP_MIN, RTP_MAX))

    def zrtp_dropped(self):
        out = self.run("net", ["nft", "list", "table", "inet", "zt_prov"])
        for line in out.stdout.splitlines():
            if "counter packets" in line:
                return int(line.split("counter packets")[1].split()[0])
        return 0

    def provider_loss(self, percent):
        """PERCENT of the datagrams to and from rtpengine's ports dropped at random (0: none)."""
        self.run("net", ["nft", "delete", "table", "inet", "zt_loss"])
        if percent:
            rule = "    udp %%s %d-%d numgen random mod 100 < %d counter drop\n" % (
                RTP_MIN, RTP_MAX, percent)
            self.nft("net", "table inet zt_loss {\n  chain in {\n    type filter hook input "
                            "priority filter - 1;\n%s  }\n  chain out {\n    type filter hook "
                            "output priority filter;\n%s  }\n}\n"
                     % (rule % "dport", rule % "sport"))

    def loss_dropped(self):
        out = self.run("net", ["nft", "list", "table", "inet", "zt_loss"])
        return sum(int(line.split("counter packets")[1].split()[0])
                   for line in out.stdout.splitlines() if "counter packets" in line)


def turn_credentials(user="lab", ttl_s=3600):
    """coturn's TURN REST credentials (--use-auth-secret), as the helper mints them: the user
    name is "expiry:user", the password base64(HMAC-SHA1(secret, user name))."""
    import base64
    import hashlib
    import hmac
    name = "%d:%s" % (int(time.time()) + ttl_s, user)
    key = base64.b64encode(hmac.new(TURN_SECRET.encode(), name.encode(), hashlib.sha1).digest())
    return {"server": "%s:3478" % NET, "username": name, "password": key.decode()}


def _stop_all(things):
    for t in things:
        try:
            t.stop()
        except Exception as e:  # keep stopping the others
            print("stop %r: %r" % (t, e))


class _Proc:
    """A process of the lab (rtpengine, coturn, redis, the helper, tshark), stopped by PID."""

    def __init__(self, proc, log):
        self.proc = proc
        self.log = log

    def stop(self):
        return stop_process(self.proc)

    def text(self):
        return text_of(self.log)


class RunQueueWait:
    """How long a process's main thread (a box's one thread: its event loop) waited for a CPU
    while it could run: the kernel's schedstat ``run_delay``, sampled every PERIOD seconds by a
    thread of the test (at most LIMIT_S seconds), so that a check of the box's own timing can
    leave out what a loaded machine withheld from it. Used as ``with RunQueueWait(pid) as w:``;
    leaving the block without an error fails loudly (AssertionError) if the kernel kept no
    run-queue statistics for the process meanwhile (its schedstat timeslice count never moved:
    ``run_delay`` would then read 0 and excuse nothing).

    The kernel adds a wait to ``run_delay`` when it ends (the task gets a CPU back), so each
    sample holds (before-stamp, after-stamp, run_delay) with the epoch read just before and just
    after reading the file: the value was read somewhere between the two stamps.
    """

    def __init__(self, pid, period=0.005, limit_s=120):
        self.path = "/proc/%d/schedstat" % pid
        self.period = period
        self.limit_s = limit_s
        self.before, self.after, self.waits = [], [], []
        self._slices = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _read(self):
        """(run_delay s, timeslices) of the process's main thread."""
        with open(self.path) as f:
            fields = f.read().split()
        return int(fields[1]) / 1e9, int(fields[2])

    def _run(self):
        end = time.monotonic() + self.limit_s
        while not self._stop.is_set() and time.monotonic() < end:
            before = time.time()
            try:
                wait = self._read()[0]
            except (OSError, ValueError, IndexError):  # the process ended
                return
            self.after.append(time.time())
            self.before.append(before)
            self.waits.append(wait)
            self._stop.wait(self.period)

    def __enter__(self):
        self._slices = self._read()[1]  # fails loudly if this kernel has no schedstat file
        self._thread.start()
        return self

    def __exit__(self, exc_type, *exc):
        self._stop.set()
        self._thread.join()
        if exc_type is None:
            slices = self._read()[1]
            assert slices > self._slices, \
                "the kernel keeps no run-queue statistics (%s: timeslices %d, then %d)" % (
                    self.path, self._slices, slices)

    def within(self, t0, t1):
        """CPU wait that surely both began and ended within [epoch T0, epoch T1]: never more.

        From the first sample read after T0 (before-stamp >= T0) to the last read before T1
        (after-stamp <= T1), less the first increase after that first sample: a wait under way
        at T0 is added only when it ends, so that increase may hold time before T0 (it is left
        out whole, with any wait of the interval it holds). 0 without such samples."""
        i = bisect.bisect_left(self.before, t0)
        j = bisect.bisect_right(self.after, t1) - 1
        if i >= j:
            return 0.0
        k = i + 1
        while k <= j and self.waits[k] == self.waits[i]:
            k += 1
        return self.waits[j] - self.waits[k] if k < j else 0.0


class Call:
    """One call from alice: the phones, the boxes' status lines of this call, times (epoch)."""

    def __init__(self, world, callee, phone, marks):
        self.world = world
        self.callee = callee  # "bob" (behind box B) or "carol" (no box)
        self.phone = phone  # the Linphone that answers
        self.marks = marks  # {box name: call statuses before this call}
        self.started = time.time()
        self.connected = None

    def statuses(self, box):
        b = self.world.boxes[box]
        return b.call_statuses()[self.marks[box]:]

    def wait(self, box, predicate, timeout, what):
        """The first status line of this call at BOX matching PREDICATE, with the epoch when it
        was seen."""
        b = self.world.boxes[box]
        deadline = time.monotonic() + timeout
        while True:
            for s in self.statuses(box):
                if predicate(s):
                    return s, time.time()
            if time.monotonic() > deadline or b.proc.poll() is not None:
                raise AssertionError("box %s: no %s within %.0f s; status:\n%s\nlog:\n%s" % (
                    box, what, timeout, "\n".join(json.dumps(s) for s in self.statuses(box)[-8:]),
                    b.log()[-4000:]))
            time.sleep(0.05)

    def wait_secure_direct(self, box, timeout):
        return self.wait(box, lambda s: s["security"] == "secure" and s.get("path") == "direct",
                         timeout, "SECURE (direct)")


class World:
    """Every part of the lab, started in its namespace: Kamailio with rtpengine, coturn, Redis
    and the helper over HTTPS (a test CA pinned in the boxes) in "net"; box A and alice in "a";
    box B, bob and carol in "b"."""

    def __init__(self, lab, folder):
        self.lab = lab
        self.dir = folder
        self.parts = []
        self.boxes = {}
        self.phones = {}
        self.helper = None
        self.ca = TestCA(folder / "ca")
        self.tshark = None
        self.box_tshark = None

    # --- the internet ---------------------------------------------------------------------------
    def _popen(self, where, name, cmd):
        log = self.dir / (name + ".log")
        p = _Proc(self.lab.popen(where, cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT),
                  log)
        self.parts.append(p)
        return p

    def _listening(self, where, kind, port):
        out = self.lab.run(where, ["ss", "-%slnH" % kind]).stdout
        return (":%d " % port) in out

    def start_helper(self, ca=None):
        """The helper over HTTPS on NET:HELPER_PORT with a certificate from CA (default: the CA
        the boxes trust), its offers in Redis, TURN REST credentials for coturn."""
        ca = ca or self.ca
        key, cert = ca.issue("icehelper.test", ips=(NET,))
        h = Helper(self.dir / "helper", backend="redis", redis_port=REDIS_PORT, https=True,
                   cert=cert, key=key, turn={"secret": TURN_SECRET, "ttl": "3600",
                                             "uris": "turn:%s:3478?transport=udp" % NET})
        conf = self.dir / "helper" / "icehelper.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(h.config_text.replace("https = 127.0.0.1:%d" % h.tls_port,
                                              "https = %s:%d" % (NET, HELPER_PORT)))
        self.helper = self._popen("net", "helper", [sys.executable, str(ROOT / "tools/icehelper"),
                                                    "--config", str(conf)])
        assert wait_until(lambda: self._listening("net", "t", HELPER_PORT), 20,
                          self.helper.proc), self.helper.text()
        return self.helper

    def stop_helper(self):
        if self.helper is not None:
            self.helper.stop()
            self.parts.remove(self.helper)
            self.helper = None

    def _internet(self):
        rtpengine = need("rtpengine", "rtpengine-daemon")
        turnserver = need("turnserver", "coturn")
        redis = need("redis-server", "redis-server")
        # rtpengine in userspace only (no kernel table), driven by Kamailio over its ng socket
        rtp = self._popen("net", "rtpengine", [
            rtpengine, "--foreground", "--log-stderr", "--table=-1", "--interface=" + NET,
            "--listen-ng=127.0.0.1:%d" % NG_PORT, "--port-min=%d" % RTP_MIN,
            "--port-max=%d" % RTP_MAX, "--log-level=6", "--delete-delay=0",
            "--pidfile=" + str(self.dir / "rtpengine.pid")])
        self._popen("net", "coturn", [
            turnserver, "-n", "--no-cli", "--no-tls", "--no-dtls", "--listening-ip=" + NET,
            "--relay-ip=" + NET, "--realm=zerotap.test", "--use-auth-secret",
            "--static-auth-secret=" + TURN_SECRET, "--min-port=49152", "--max-port=49200",
            "--log-file=" + str(self.dir / "turnserver.log"), "--simple-log", "--verbose",
            "--pidfile=" + str(self.dir / "turn.pid"),
            "--db=" + str(self.dir / "turndb")])
        rd = self._popen("net", "redis", [
            redis, "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.dir)])
        self.kamailio = Provider(self.dir / "kam", NET, 5060, 5060, USERS, domain=DOMAIN,
                                 prefix=self.lab.prefix("net"),
                                 rtpengine="udp:127.0.0.1:%d" % NG_PORT)
        self.parts.append(self.kamailio)
        self.kamailio.start()
        assert wait_until(lambda: self._listening("net", "u", NG_PORT), 10, rtp.proc), rtp.text()
        assert wait_until(lambda: self._listening("net", "t", REDIS_PORT), 10, rd.proc), rd.text()
        self.start_helper()

    # --- the sites ------------------------------------------------------------------------------
    def _box(self, name, site, interp):
        lan_ip = SITES[site][0]
        box = BoxProcess(self.dir / ("box" + name), name, interpreter=interp,
                         proxy="%s:5060" % NET)
        box.prefix = self.lab.prefix(site)
        box.config["network"]["sip"] = "%s:5080" % lan_ip
        box.config["network"]["keepalive_s"] = 10
        # no ice.stun/ice.turn: the box takes coturn (STUN and TURN, REST credentials) from the
        # helper's PUT answer; its agent is made when that answer arrives, and the offer stored
        # before then already carries its credentials (docs/fallback.md)
        box.config["ice"] = {"helper_url": "https://icehelper.test:%d" % HELPER_PORT,
                             "helper_ca": str(self.ca.pem), "helper_address": NET,
                             "after_s": AFTER_S, "deadline_s": DEADLINE_S}
        self.boxes[name] = box
        return box

    def _phone(self, name, site, box=None):
        if box is not None:  # all its SIP through the box's phone side
            proxy = route = box.phone_uri
            address = "127.0.0.1"
        else:  # straight to the provider, from the LAN behind the NAT
            proxy = route = "sip:%s:5060" % NET
            address = SITES[site][0]
        p = Linphone(self.dir / name, prefix=self.lab.prefix(site), address=address,
                     auto_answer=name != "alice",
                     account={"identity": "sip:%s@%s" % (name, DOMAIN), "proxy": proxy,
                              "route": route, "register": True, "username": name,
                              "password": USERS[name], "realm": DOMAIN, "expires": 600})
        self.phones[name] = p
        return p

    def start(self):
        need("linphonec", "linphone-cli")
        need("tshark", "tshark")
        need("nft", "nftables")
        self._internet()
        a = self._box("A", "a", "cpython")
        b = self._box("B", "b", "micropython")
        for box in (a, b):
            self.parts.append(box)  # stopped also when its start fails half-way
            box.start()
        for name, site, box in (("alice", "a", a), ("bob", "b", b), ("carol", "b", None)):
            self.parts.append(self._phone(name, site, box))
            self.phones[name].start()
        for p in self.phones.values():
            p.wait_registered(20)
        for box in (a, b):  # each box learnt its NAT's address from the registrar's answers
            assert wait_until(lambda: any(s.get("public") for s in box.statuses()
                                          if "call" not in s), 10), box.log()[-3000:]
        return self

    def stop(self):
        self.stop_capture()
        _stop_all(list(reversed(self.parts)))
        self.parts = []

    # --- the wire -------------------------------------------------------------------------------
    def start_capture(self, name, box_side=False):
        """tshark in the internet namespace on site A's link (all that box A and alice send or
        receive crosses it: the provider path and the direct path), live when this returns.
        BOX_SIDE: a second tshark in site A's namespace on ``lo`` (alice and box A talk there)
        and ``eth0`` (what box A sends, stamped as it leaves the box, before the NAT), read by
        ``box_packets``.

        tshark prints "Capturing on" BEFORE it starts dumpcap, which opens the interface and
        attaches the filter only then: measured here, packets sent up to 20-560 ms after the
        message (more under load) are missing from the file, and a call placed at once lost its
        INVITEs (the SDP offer) that way. So the capture counts as live only once its file holds
        a probe: datagrams from PROBE_PORT to PROBE_PORT (in "net" toward site A's NAT, which
        drops them as unsolicited; in site A on ``lo``, to the prober's own socket, which never
        reads), sent every 50 ms
        until one is there (dumpcap flushes its file while it captures). ``udp_packets`` and
        ``box_packets`` leave the probes out."""
        self.tshark, self.capture_path = self._live_capture(
            name, "net", ["-i", "toa", "-f", "udp or tcp port 5060"], NET, SITES["a"][2])
        if box_side:
            self.box_tshark, self.box_capture_path = self._live_capture(
                name + ".site", "a", ["-f", "udp", "-i", "lo", "-i", "eth0"], "127.0.0.1",
                "127.0.0.1")

    def _live_capture(self, name, where, args, probe_from, probe_to):
        path = self.dir / (name + ".pcapng")
        log = self.dir / (name + ".tshark.log")
        tshark = _Proc(self.lab.popen(where, [need("tshark", "tshark")] + args + ["-w", str(path)],
                                      stdout=open(log, "wb"), stderr=subprocess.STDOUT), log)
        try:
            assert wait_until(lambda: "Capturing on" in tshark.text(), 15, tshark.proc), \
                tshark.text()
            token = "zt-capture-live %d %s %.6f" % (self.lab.pid, name, time.time())
            prober = self.lab.popen(where, [sys.executable, "-c", _PROBE, probe_from, probe_to,
                                            token])
            try:
                live = wait_until(lambda: path.exists() and token.encode() in path.read_bytes(),
                                  15, tshark.proc)
            finally:
                stop_process(prober)
            assert live, "the capture holds no probe within 15 s: %s" % tshark.text()
        except BaseException:
            stop_process(tshark.proc)
            raise
        return tshark, path

    def stop_capture(self):
        for attr in ("tshark", "box_tshark"):
            if getattr(self, attr, None) is not None:
                stop_process(getattr(self, attr).proc, __import__("signal").SIGINT)
                setattr(self, attr, None)

    def udp_packets(self, path=None):
        """The capture's UDP datagrams but ``start_capture``'s probes: [(epoch, src, sport, dst,
        dport, payload bytes)]."""
        out = subprocess.run([need("tshark", "tshark"), "-r", str(path or self.capture_path), "-T",
                              "fields", "-e", "frame.time_epoch", "-e", "ip.src", "-e",
                              "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport", "-e",
                              "udp.payload"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        rows = []
        for line in out.stdout.splitlines():
            f = line.split("\t")
            if len(f) < 6 or not f[2] or int(f[2]) == int(f[4]) == PROBE_PORT:
                continue
            rows.append((float(f[0]), f[1], int(f[2]), f[3], int(f[4]),
                         bytes.fromhex(f[5].replace(":", ""))))
        return rows

    def box_packets(self):
        """``udp_packets`` of the site-side capture (``start_capture(..., box_side=True)``)."""
        return self.udp_packets(self.box_capture_path)

    def sdp_bodies(self):
        """The SDP bodies of the SIP messages in the capture (UDP or TCP): [(src, dst, media
        attributes)]."""
        out = subprocess.run([need("tshark", "tshark"), "-r", str(self.capture_path), "-Y",
                              "sdp", "-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e",
                              "sdp.media_attr"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return [tuple(line.split("\t")[:3]) for line in out.stdout.splitlines() if line]

    # --- calls ----------------------------------------------------------------------------------
    def call(self, callee, play, prefix=""):
        """alice calls CALLEE ("bob" through box B, or "carol"), PREFIX before the user (the
        provider's "nodtmf-"); alice and the callee play PLAY (two WAV paths) and record what
        they hear (``<name>_heard.wav`` in the lab's folder). (Without a file to play, linphonec
        sends no RTP at all, and a box without media never starts the fallback.)"""
        alice, far = self.phones["alice"], self.phones[callee]
        marks = {k: len(b.call_statuses()) for k, b in self.boxes.items()}
        self.line_marks = {k: len(p.lines) for k, p in self.phones.items()}
        for phone, wav in ((alice, play[0]), (far, play[1])):
            phone.play(wav)
            phone.record(self.dir / ("%s_heard.wav" % phone.name))
        c = Call(self, callee, far, marks)
        self.current = c
        alice.call("sip:%s%s@%s" % (prefix, callee, DOMAIN))
        alice.wait_for(r"Call \d+ with .* connected", 20, start=self.line_marks["alice"])
        c.connected = time.time()
        return c

    def end_call(self):
        """Hang up a call that a failed test left up (the next test starts from idle)."""
        c, self.current = getattr(self, "current", None), None
        if c is not None and getattr(c, "ended", None) is None:
            try:
                self.hang_up(c)
            except Exception as e:
                print("hang up after a failure: %r" % e)

    def hang_up(self, c):
        alice = self.phones["alice"]
        alice.terminate_call()
        alice.wait_for(r"Call \d+ .*(ended|error)", 15, start=self.line_marks["alice"])
        c.phone.wait_for(r"Call \d+ .*(ended|error)", 15, start=self.line_marks[c.phone.name])
        c.ended = time.time()
        c.wait("A", lambda s: s["state"] == "ended", 10, "ended")
        if c.callee == "bob":
            c.wait("B", lambda s: s["state"] == "ended", 10, "ended")
