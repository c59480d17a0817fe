"""A driver for headless ``linphonec`` (Debian's linphone-cli, ZRTP by bzrtp) in tests.

Each instance gets its own HOME (so its own ZRTP cache, ``$HOME/.linphone-zidcache``), a freshly
written rc file, a log at debug level 6, and its commands through a pipe held open on stdin (at
end of input linphonec quits). It is started and stopped by PID only: ``quit``, then TERM, then
KILL.

    phone = Linphone(tmp_path / "alice", encryption="none").start()   # free loopback ports
    phone.call("sip:bob@127.0.0.1:5070")  # or any command: phone.command("5") types a DTMF key
    sas = phone.wait_encrypted()          # from stdout: "Call 1 is fully encrypted and auth token is X."
    phone.algorithms()                    # from the log, by ZRTP names: {"cipher": "AES1", ...}
    phone.stop()

Every test that needs linphonec uses this driver: the box's end-to-end tests (a plain desk phone, the
ZRTP peer, an account at Kamailio), the SIP tests (linphonec against a UAS/UAC of zerotap.sip,
registration with digest auth) and the DTMF tests (RFC 4733 events or in-band tones typed during
a call).

What it reads:
- stdout lines (a reader thread keeps them; :meth:`wait_for` waits for a regex);
- the ``-d 6`` log: ``ZRTP secrets on: SAS is X previously verified no``, ``ZRTP algo used during
  negotiation: ...``, call state changes with millisecond timestamps (for handshake timing).
"""
import os
import re
import shutil
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import ports
from hostenv import need, stop_process, text_of, wait_until

# linphone's log names -> ZRTP names (RFC 6189 section 5.1.2 to 5.1.6)
_CIPHERS = {"AES-128": "AES1", "AES-192": "AES2", "AES-256": "AES3", "TWOFISH-128": "2FS1",
            "TWOFISH-256": "2FS3"}
_KAS = {"DHM-3072": "DH3k", "DHM-2048": "DH2k", "ECDH-256": "EC25", "ECDH-384": "EC38",
        "X25519": "X255", "X448": "X448", "Multistream": "Mult"}
_HASHES = {"SHA-256": "S256", "SHA-384": "S384", "SHA-512": "S512"}
_AUTHS = {"HMAC-SHA1-32": "HS32", "HMAC-SHA1-80": "HS80"}
_SAS = {"Base32": "B32", "PGP-WordList": "B256", "Base256": "B256"}

_ALGO_RE = re.compile(r"ZRTP algo used during negotiation: Cipher: (\S+) - KeyAgreement: (\S+) - "
                      r"Hash: (\S+) - AuthTag: (\S+) - Sas Rendering: (\S+)")
_SAS_RE = re.compile(r"ZRTP secrets on: SAS is (\S+) previously verified (\w+)")
_STAMP_RE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d):(\d{3}) ")

CODECS = (("PCMU", 8000), ("PCMA", 8000), ("opus", 48000), ("speex", 16000), ("speex", 8000),
          ("GSM", 8000), ("G722", 8000), ("iLBC", 8000), ("speex", 32000), ("L16", 44100),
          ("BV16", 8000), ("G729", 8000))


def stamp_ms(line):
    """Milliseconds since the epoch of a linphone log line's timestamp, or None."""
    m = _STAMP_RE.match(line)
    if not m:
        return None
    t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
    return int(t.timestamp()) * 1000 + int(m.group(2))


class Linphone:
    """One linphonec process with its own HOME, rc, log and pipe."""

    def __init__(self, directory, sip_port=None, rtp_port=None, encryption="none", mandatory=None,
                 auto_answer=False, codec="PCMU", account=None, zrtp=None, name=None,
                 rfc2833=None, address="127.0.0.1", prefix=(), tcp_port=0, tls_port=0,
                 root_ca=None, extra_rc=None):
        """DIRECTORY is emptied at start. SIP_PORT and RTP_PORT (even; RTCP on the next one)
        default to free loopback ports. ENCRYPTION: ``none`` or ``zrtp`` (MANDATORY defaults
        to ENCRYPTION != none). ACCOUNT: a dict with identity, proxy, and optionally route,
        register, expires, username, password, realm. ZRTP: ``{"key_agreements": "..."}`` and
        the like. RFC2833: True sends typed keys as RFC 4733 events, False as in-band tones
        (SIP INFO off either way); None leaves linphonec's default."""
        self.dir = Path(directory)
        self.name = name or self.dir.name
        self.sip_port = sip_port or ports.udp_port()
        self.rtp_port = rtp_port or ports.udp_pair()
        self.encryption = encryption
        self.mandatory = (encryption != "none") if mandatory is None else mandatory
        self.auto_answer = auto_answer
        self.codec = codec
        self.account = account  # dict: identity, proxy, route, register, username, password, realm
        self.zrtp = zrtp or {}  # e.g. {"key_agreements": "MS_ZRTP_KEY_AGREEMENT_X255"}
        self.rfc2833 = rfc2833
        self.address = address  # where it binds (another address inside a test's namespace)
        self.prefix = list(prefix)  # e.g. ["ip", "netns", "exec", NAME]
        self.tcp_port = tcp_port  # a SIP TCP port (0: no TCP)
        self.tls_port = tls_port  # a SIP TLS port (0: no TLS)
        self.root_ca = root_ca  # a PEM file: TLS servers must present a certificate it signed
        self.extra_rc = extra_rc or {}  # {"sip": ["incoming_calls_early_media=1"]}: added lines
        self.proc = None
        self.lines = []
        self._cond = threading.Condition()
        self.home = self.dir / "home"
        self.rc = self.dir / "linphonerc"
        self.log = self.dir / "linphone.log"

    # --- set-up ---------------------------------------------------------------------------------
    def _write_rc(self):
        sip = ["sip_port=%d" % self.sip_port, "sip_tcp_port=%d" % self.tcp_port,
               "sip_tls_port=%d" % self.tls_port,
               "bind_address=%s" % self.address, "use_ipv6=0", "guess_hostname=0",
               "media_encryption=%s" % self.encryption,
               "media_encryption_mandatory=%d" % (1 if self.mandatory else 0),
               "register_only_when_network_is_up=0", "auto_net_state_mon=0", "ping_with_options=0",
               "contact=sip:%s@%s:%d" % (self.name, self.address, self.sip_port)]
        if self.root_ca:
            # the chain is verified; the name is not (linphonec checks the CN against the
            # address it dialled, and a test provider is dialled by IP address)
            sip += ["root_ca=%s" % self.root_ca, "verify_server_certs=1", "verify_server_cn=0"]
        for kind, value in self.zrtp.items():
            sip.append("zrtp_%s_suites=%s" % (kind, value))
        if self.rfc2833 is not None:
            sip += ["use_rfc2833=%d" % (1 if self.rfc2833 else 0), "use_info=0"]
        rtp = ["audio_rtp_port=%d" % self.rtp_port, "bind_address=%s" % self.address,
               "audio_jitt_comp=60", "nortp_timeout=30"]
        sections = [("sip", sip), ("rtp", rtp),
                    ("sound", ["echocancellation=0", "agc=0", "noisegate=0", "mic_gain_db=0",
                               "playback_gain_db=0"]),
                    ("video", ["capture=0", "display=0", "automatically_initiate=0",
                               "automatically_accept=0"]),
                    ("net", ["firewall_policy=0", "mtu=1300"])]
        i = 0
        for mime, rate in CODECS:
            enabled = 1 if (mime == self.codec and rate == 8000) else 0
            body = ["mime=%s" % mime, "rate=%d" % rate, "enabled=%d" % enabled]
            if mime == "opus":
                body.insert(2, "channels=2")
            sections.append(("audio_codec_%d" % i, body))
            i += 1
        if self.account:
            a = self.account
            proxy = ["reg_proxy=%s" % a["proxy"], "reg_identity=%s" % a["identity"],
                     "reg_expires=%d" % a.get("expires", 600),
                     "reg_sendregister=%d" % (1 if a.get("register") else 0),
                     "publish=0", "dial_escape_plus=0", "quality_reporting_enabled=0",
                     "avpf=0", "nat_policy_ref="]
            if a.get("route"):
                proxy.append("reg_route=%s" % a["route"])
            sections.append(("proxy_0", proxy))
            sip.append("default_proxy=0")
            if a.get("username"):
                sections.append(("auth_info_0", ["username=%s" % a["username"],
                                                 "passwd=%s" % a["password"],
                                                 "realm=%s" % a.get("realm", ""),
                                                 "domain=%s" % a.get("realm", "")]))
        else:
            sip.append("default_proxy=-1")
        for name, body in sections:
            body.extend(self.extra_rc.get(name, ()))
        text = "".join("[%s]\n%s\n\n" % (name, "\n".join(body)) for name, body in sections)
        self.rc.write_text(text)

    def start(self, ready_timeout=15):
        exe = need("linphonec", "the Debian package linphone-cli")
        if self.dir.exists():
            shutil.rmtree(self.dir)
        (self.home / ".local" / "share" / "linphone").mkdir(parents=True)
        self._write_rc()
        args = [exe, "-c", str(self.rc), "-d", "6", "-l", str(self.log)]
        if self.auto_answer:
            args.append("-a")
        env = dict(os.environ, HOME=str(self.home), LANG="C", LC_ALL="C")
        env.pop("DISPLAY", None)
        self.proc = subprocess.Popen(self.prefix + args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env, cwd=str(self.dir))
        threading.Thread(target=self._read, daemon=True).start()
        self.command("soundcard use files")
        self.wait_for(r"Using wav files instead of soundcard", ready_timeout)
        return self

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    # --- driving --------------------------------------------------------------------------------
    def command(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def wait_for(self, pattern, timeout=10, start=0):
        """The first stdout line from index START matching PATTERN (a regex), as a match object;
        AssertionError after TIMEOUT seconds."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and i >= len(self.lines)):
                    raise AssertionError("%s: no %r within %.0f s; stdout:\n%s"
                                         % (self.name, pattern, timeout, "\n".join(self.lines[-30:])))
                self._cond.wait(min(left, 0.2))

    def seen(self, pattern):
        rx = re.compile(pattern)
        with self._cond:
            return any(rx.search(line) for line in self.lines)

    def call(self, uri):
        self.command("call " + uri)

    def dtmf(self, keys):
        """Type KEYS during the call: linphonec sends them one per second, as RFC 4733 events
        with rfc2833=True."""
        self.command(keys)

    def tones_received(self):
        """The DTMF keys this linphonec received, in order ("Receiving tone 5 from ...")."""
        with self._cond:
            return "".join(m.group(1) for m in
                           (re.search(r"Receiving tone (\S) from", line) for line in self.lines)
                           if m)

    def play(self, wav):
        self.command("play %s" % wav)

    def record(self, wav):
        self.command("record %s" % wav)

    def wait_registered(self, timeout=15):
        """Until the log says the account registered (LinphoneRegistrationOk)."""
        if not wait_until(lambda: "to [LinphoneRegistrationOk]" in self.log_text(), timeout,
                          interval=0.1):
            raise AssertionError("%s: not registered within %.0f s" % (self.name, timeout))

    def wait_connected(self, timeout=15):
        return self.wait_for(r"Call \d+ with .* connected", timeout)

    def wait_encrypted(self, timeout=20):
        """The SAS linphonec printed when the call became fully encrypted."""
        return self.wait_for(r"Call \d+ is fully encrypted and auth token is (\S+)\.",
                             timeout).group(1)

    def wait_ended(self, timeout=15):
        return self.wait_for(r"Call \d+ .*(ended|error)", timeout)

    def terminate_call(self):
        self.command("terminate")

    # --- the log --------------------------------------------------------------------------------
    def log_text(self):
        return text_of(self.log)

    def log_sas(self):
        """(sas, previously_verified) from the log, or None."""
        m = _SAS_RE.search(self.log_text())
        return (m.group(1), m.group(2) == "yes") if m else None

    def algorithms(self):
        """The negotiated ZRTP algorithms by ZRTP name, or None before the call is secure."""
        m = _ALGO_RE.search(self.log_text())
        if not m:
            return None
        c, ka, h, auth, sas = m.groups()
        return {"cipher": _CIPHERS.get(c, c), "ka": _KAS.get(ka, ka), "hash": _HASHES.get(h, h),
                "auth": _AUTHS.get(auth, auth), "sas_type": _SAS.get(sas, sas)}

    def handshake_ms(self):
        """Milliseconds from this side's call reaching Connected (the answer) to ZRTP secrets on,
        both read from the log's own timestamps; None when either is missing."""
        connected = secure = None
        for line in self.log_text().splitlines():
            if connected is None and re.search(r"moving from state \w+ to LinphoneCallConnected",
                                               line):
                connected = stamp_ms(line)
            elif connected is not None and "ZRTP secrets on:" in line:
                secure = stamp_ms(line)
                break
        if connected is None or secure is None:
            return None
        return secure - connected

    # --- stopping -------------------------------------------------------------------------------
    def stop(self, timeout=5):
        """quit, then TERM, then KILL, by PID."""
        def quit():
            self.command("quit")
            self.proc.stdin.close()
        stop_process(self.proc, quit, timeout)
