"""Kamailio as an internet SIP provider for transport tests: UDP, TCP and TLS listeners, digest
authentication, and the usual NAT handling (nathelper: a registration from behind NAT is saved
with the address it came from, and requests to it go back over the same connection).

    k = Provider(tmp_path / "kam", host="127.0.0.1", users={"alice": "pw"},
                 tls=(key_path, cert_path)).start()        # ports: k.udp, k.tcp, k.tls
    k.stop()                                               # by PID

Debian packages ``kamailio`` and ``kamailio-tls-modules``. The TLS server uses the given
certificate and asks for no client certificate. ``prefix`` runs it inside a network namespace
(``["ip", "netns", "exec", NAME]``). Everything else as in kamailio.py: in-memory location,
record-routing, calls to the registered contact of the Request-URI's user.
"""
import socket
import subprocess
import threading
from pathlib import Path

from hostenv import need, stop_process, text_of, wait_until
from kamailio import AUTH_ROUTE, LOAD_MODULES, MODULES

CFG = r'''#!KAMAILIO
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=2
tcp_children=2
auto_aliases=no
listen=udp:%(host)s:%(udp)d
listen=tcp:%(host)s:%(tcp)d
%(tls_listen)s
alias="%(domain)s"
alias="%(host)s"
enable_sctp=no
tcp_accept_aliases=yes
tcp_connection_lifetime=3605
tcp_max_connections=64
mpath="%(modules)s"
''' + LOAD_MODULES + r'''loadmodule "nathelper.so"
%(tls_load)s
%(rtp_load)s
modparam("usrloc", "db_mode", 0)
modparam("usrloc", "nat_bflag", 6)
modparam("rr", "enable_full_lr", 1)
modparam("rr", "append_fromtag", 1)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
%(tls_param)s

request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (!sanity_check("1511", "7")) { xlog("L_WARN", "malformed SIP from $si:$sp\n"); exit; }
    xlog("L_INFO", "REQ $rm $ru from $pr:$si:$sp len $ml\n");
    %(busy)s
    if (is_method("INVITE")) {
        xlog("L_INFO", "INVITE-SIZE $ml headers-ok\n");
    }
    if (nat_uac_test("19")) {
        if (is_method("REGISTER")) { fix_nated_register(); }
        else { add_contact_alias(); }
        setflag(5);
    }
    if (has_totag()) {
        if (loose_route()) {
            handle_ruri_alias();
            # an in-dialog request to a GRUU (RFC 5627) of ours: to the contact behind it
            if (uri==myself && $rU != $null) { lookup("location"); }
            %(rtp_dialog)s
            t_relay(); exit;
        }
        if (is_method("ACK")) {
            if (t_check_trans()) { t_relay(); exit; }
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("CANCEL")) {
        if (t_check_trans()) { t_relay(); }
        exit;
    }
    t_check_trans();
    remove_hf("Route");
    if (is_method("REGISTER|INVITE|MESSAGE|SUBSCRIBE")) {
        %(auth)s
    }
    %(rtp_strip)s
    if (is_method("REGISTER")) {
        if (isflagset(5)) { setbflag(6); }
        if (!save("location")) { sl_reply_error(); }
        exit;
    }
    if (is_method("OPTIONS") && uri==myself && $rU==$null) {
        sl_send_reply("200", "Keepalive"); exit;
    }
    if (is_method("INVITE|SUBSCRIBE|UPDATE")) { record_route(); }
    if (!lookup("location")) {
        t_newtran();
        t_reply("404", "Not Found");
        exit;
    }
    %(rtp_initial)s
    t_on_reply("REPLY");
    t_relay();
    exit;
}

''' + AUTH_ROUTE + r'''
onreply_route[REPLY] {
    if (nat_uac_test("1")) { add_contact_alias(); }
    %(rtp_reply)s
}

onreply_route {
    xlog("L_INFO", "REPLY $rs $rr for $rm from $pr:$si:$sp len $ml\n");
}
'''

# rtpengine (Debian rtpengine-daemon) anchoring the media, as a provider's SBC does: every SDP
# offer and answer goes through rtpengine_manage() over the ng control socket, and BYE deletes
# the session. A Request-URI user "nodtmf-NAME" reaches NAME with telephone-event stripped from
# the SDP (a provider whose path carries no RFC 4733 events).
RTP_FLAGS = "replace-origin replace-session-connection"
RTP_SNIPPETS = {
    "rtp_load": 'loadmodule "rtpengine.so"\nmodparam("rtpengine", "rtpengine_sock", "%(sock)s")',
    "rtp_strip": 'if ($rU =~ "^nodtmf-") { $rU = $(rU{s.substr,7,0}); setflag(7); }',
    "rtp_dialog": 'if (is_method("INVITE|ACK|BYE|CANCEL|UPDATE")) { route(RTP); '
                  't_on_reply("REPLY"); }',
    "rtp_initial": 'if (is_method("INVITE")) { route(RTP); }',
    "rtp_reply": 'if (has_body("application/sdp")) { route(RTP); }',
}
RTP_ROUTE = r'''
route[RTP] {
    if (isflagset(7)) { rtpengine_manage("%(flags)s codec-strip-telephone-event"); }
    else { rtpengine_manage("%(flags)s"); }
}
'''

TLS_CFG = '''[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = %(key)s
certificate = %(cert)s

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
'''


_lock = threading.Lock()
_given = set()


def tcp_port(host="127.0.0.1"):
    """A TCP port free on HOST now (also free for UDP), never handed out twice."""
    with _lock:
        for _ in range(200):
            s = socket.socket()
            try:
                s.bind((host, 0))
                p = s.getsockname()[1]
            finally:
                s.close()
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind((host, p))
            except OSError:
                continue
            finally:
                u.close()
            if p not in _given:
                _given.add(p)
                return p
    raise RuntimeError("no free TCP port")


def listening(port, host=None):
    """True when a TCP socket listens on PORT (read from /proc/net/tcp of this namespace, or of
    the namespace whose ``ip netns exec`` prefix is HOST's business: only the local one here)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[1].endswith(":%04X" % port) and parts[3] == "0A":
                return True
    return False


class Provider:
    def __init__(self, directory, host, udp, tcp, users, tls=None, tls_port=None,
                 domain=None, prefix=(), auth=True, busy=False, rtpengine=None):
        self.dir = Path(directory)
        self.host = host
        self.udp = udp
        self.tcp = tcp
        self.tls = tls_port
        self.tls_files = tls
        self.users = dict(users)
        self.domain = domain or host
        self.prefix = list(prefix)
        self.auth = auth  # False: no digest challenge (tests about something else)
        self.busy = busy  # True: every request is answered 503 (an overloaded server)
        self.rtpengine = rtpengine  # "udp:IP:PORT": rtpengine's ng socket anchors the media
        self.proc = None
        self.cfg = self.dir / "kamailio.cfg"
        self.log = self.dir / "kamailio.log"

    def _write(self):
        lines = ['    $var(pw) = "";']
        for user, pw in self.users.items():
            lines.append('    if ($au == "%s") { $var(pw) = "%s"; }' % (user, pw))
        tls_listen = tls_load = tls_param = ""
        if self.tls_files is not None:
            key, cert = self.tls_files
            tls_cfg = self.dir / "tls.cfg"
            tls_cfg.write_text(TLS_CFG % {"key": key, "cert": cert})
            tls_listen = "enable_tls=yes\nlisten=tls:%s:%d" % (self.host, self.tls)
            tls_load = 'loadmodule "tls.so"'
            tls_param = 'modparam("tls", "config", "%s")' % tls_cfg
        rtp = {k: "" for k in RTP_SNIPPETS}
        if self.rtpengine:
            rtp = {k: v % {"sock": self.rtpengine} if k == "rtp_load" else v
                   for k, v in RTP_SNIPPETS.items()}
        self.cfg.write_text((CFG + (RTP_ROUTE % {"flags": RTP_FLAGS} if self.rtpengine else ""))
                            % dict(rtp, **{"host": self.host, "udp": self.udp, "tcp": self.tcp,
                                   "domain": self.domain, "modules": MODULES,
                                   "passwords": "\n".join(lines), "tls_listen": tls_listen,
                                   "tls_load": tls_load, "tls_param": tls_param,
                                   "busy": 'sl_send_reply("503", "Service Unavailable"); exit;'
                                   if self.busy else "",
                                   "auth": "route(AUTH);" if self.auth else
                                   "xlog(\"L_INFO\", \"no authentication here\\n\");"}))

    def start(self, timeout=20):
        exe = need("kamailio", "the Debian package kamailio")
        if self.tls_files is not None and not Path(MODULES, "tls.so").exists():
            import pytest
            pytest.fail("kamailio's tls.so is missing: install kamailio-tls-modules",
                        pytrace=False)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write()
        check = subprocess.run([exe, "-c", "-f", str(self.cfg)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr[-3000:]
        run = self.dir / "run"
        run.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            self.prefix + [exe, "-DD", "-E", "-f", str(self.cfg), "-Y", str(run), "-P",
                           str(self.dir / "pid"), "-m", "64", "-M", "16", "-w", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))
        if wait_until(self._ready, timeout, self.proc, interval=0.1):
            return self
        self.stop()
        raise AssertionError("kamailio did not start: %s" % self.log_text()[-3000:])

    def _ready(self):
        if self.prefix:  # in a namespace: its own /proc/net/tcp is not ours to read
            return subprocess.run(self.prefix + ["ss", "-ltnH"], capture_output=True, text=True
                                  ).stdout.count(":%d " % self.tcp) > 0
        return listening(self.tcp) and (self.tls is None or listening(self.tls))

    def log_text(self):
        return text_of(self.log)

    def stop(self):
        stop_process(self.proc)
