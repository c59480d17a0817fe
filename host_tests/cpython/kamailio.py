"""A real SIP registrar and proxy for tests: Kamailio (Debian package ``kamailio``) on loopback.

    k = Kamailio(tmp_path / "kam", port=ports.udp_port(), users={"alice": "pw1"}).start()
    ...                         # phones register as sip:alice@127.0.0.1:PORT with digest auth
    k.stop()

It is a small stateful proxy: REGISTER and INVITE need digest authentication against USERS
(realm = the domain), the location table lives in memory, every initial request is
record-routed, calls go to the registered contact of the Request-URI's user. It runs in the
foreground (``-DD -E``), logs to a file, and is stopped by PID. No database, no other hosts.
"""
import subprocess
from pathlib import Path

from hostenv import need, stop_process, text_of, wait_until

MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

# Digest authentication of REGISTER (www) and of other requests (proxy): one copy for every
# Kamailio of the tests (kamailio_provider.py too); %(passwords)s sets $var(pw) per user.
AUTH_ROUTE = r'''route[AUTH] {
%(passwords)s
    if (is_method("REGISTER")) {
        if (!pv_www_authenticate("$td", "$var(pw)", "0")) {
            www_challenge("$td", "0");
            exit;
        }
        if ($au != $tU) { sl_send_reply("403", "Forbidden auth ID"); exit; }
    } else {
        if (!pv_proxy_authenticate("$fd", "$var(pw)", "0")) {
            proxy_challenge("$fd", "0");
            exit;
        }
        if ($au != $fU) { sl_send_reply("403", "Forbidden auth ID"); exit; }
    }
    consume_credentials();
}
'''

# The modules every Kamailio of the tests loads (kamailio_provider.py too, and some more).
LOAD_MODULES = "".join('loadmodule "%s.so"\n' % m for m in (
    "kex", "corex", "tm", "tmx", "sl", "rr", "pv", "maxfwd", "usrloc", "registrar", "textops",
    "siputils", "xlog", "sanity", "auth"))

CFG = r'''#!KAMAILIO
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=1
auto_aliases=no
listen=udp:127.0.0.1:%(port)d
alias="127.0.0.1:%(port)d"
disable_tcp=yes
enable_sctp=no
mpath="%(modules)s"
''' + LOAD_MODULES + r'''modparam("usrloc", "db_mode", 0)
modparam("rr", "enable_full_lr", 1)
modparam("rr", "append_fromtag", 1)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "gruu_enabled", %(gruu)d)

request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (!sanity_check("1511", "7")) { xlog("L_WARN", "malformed SIP from $si:$sp\n"); exit; }
    xlog("L_INFO", "REQ $rm $ru from $si:$sp\n");
    if (has_totag()) {
        if (loose_route()) {
            if (is_method("BYE|INVITE|UPDATE|ACK|PRACK|INFO|OPTIONS")) { t_relay(); exit; }
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
%(first)s
    remove_hf("Route");
    if (is_method("REGISTER|INVITE|MESSAGE|SUBSCRIBE")) {
        route(AUTH);
    }
    if (is_method("REGISTER")) {
        if (!save("location")) { sl_reply_error(); }
        exit;
    }
    if (is_method("INVITE|SUBSCRIBE|UPDATE")) { record_route(); }
    if (!lookup("location")) {
        t_newtran();
        t_reply("404", "Not Found");
        exit;
    }
    t_relay();
    exit;
}

''' + AUTH_ROUTE + r'''
onreply_route {
    xlog("L_INFO", "REPLY $rs $rr for $rm\n");
}
'''


class Kamailio:
    def __init__(self, directory, port, users, first="", gruu=True):
        """FIRST: script lines run for each initial request before authentication (a test's
        302 or 422, issue 14). GRUU False: the registrar hands out no GRUU (RFC 5627), so that
        phones registered here directly use their own address as Contact."""
        self.first = first
        self.gruu = gruu
        self.dir = Path(directory)
        self.port = port
        self.users = dict(users)
        self.proc = None
        self.cfg = self.dir / "kamailio.cfg"
        self.log = self.dir / "kamailio.log"
        self.domain = "127.0.0.1:%d" % port

    def _write(self):
        lines = ['    $var(pw) = "";']
        for user, pw in self.users.items():
            lines.append('    if ($au == "%s") { $var(pw) = "%s"; }' % (user, pw))
        self.cfg.write_text(CFG % {"port": self.port, "modules": MODULES,
                                   "passwords": "\n".join(lines), "first": self.first,
                                   "gruu": 1 if self.gruu else 0})

    def start(self, timeout=15):
        exe = need("kamailio", "the Debian package kamailio")
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write()
        check = subprocess.run([exe, "-c", "-f", str(self.cfg)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr[-3000:]
        run = self.dir / "run"
        run.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "-DD", "-E", "-f", str(self.cfg), "-Y", str(run), "-P", str(self.dir / "pid"),
             "-m", "32", "-M", "8", "-w", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))
        if wait_until(lambda: "INFO: <core> [core/udp_server.c" in self.log_text()
                      or self._listening(), timeout, self.proc, interval=0.1):
            return self
        self.stop()
        raise AssertionError("kamailio did not start: %s" % self.log_text()[-3000:])

    def _listening(self):
        with open("/proc/net/udp") as f:
            return any(":%04X " % self.port in line.split()[1] + " " for line in f.readlines()[1:])

    def log_text(self):
        return text_of(self.log)

    def stop(self):
        stop_process(self.proc)
