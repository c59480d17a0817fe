"""A tiny SIP user agent for the DTMF tests: it answers one call from linphonec on loopback,
records the RTP that linphonec sends, and hangs up when told. Just enough of RFC 3261 for that.
"""
import os
import re
import select
import socket
import subprocess
import time
from pathlib import Path

from hostenv import need


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _header(msg, name):
    m = re.search(r"^%s\s*:\s*(.*)$" % name, msg, re.M | re.I)
    return m.group(1).strip() if m else ""


class Answerer:
    """Answers the first INVITE with PCMU (and telephone-event when EVENTS), collects RTP."""

    def __init__(self, events=True, event_pt=101):
        self.sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sip.bind(("127.0.0.1", 0))
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.sip_port = self.sip.getsockname()[1]
        self.rtp_port = self.rtp.getsockname()[1]
        self.events = events
        self.event_pt = event_pt
        self.packets = []  # (arrival seconds, bytes)
        self.established = False
        self.ended = False
        self.offer = None
        self._dialog = None

    def close(self):
        self.sip.close()
        self.rtp.close()

    def _reply(self, msg, addr, code, reason, body=b"", extra=""):
        lines = ["SIP/2.0 %d %s" % (code, reason)]
        for name in ("Via", "From", "Call-ID", "CSeq"):
            for m in re.finditer(r"^(%s)\s*:\s*(.*)$" % name, msg, re.M | re.I):
                lines.append("%s: %s" % (name, m.group(2).strip()))
        to = _header(msg, "To")
        if "tag=" not in to:
            to += ";tag=zt%d" % os.getpid()
        lines.append("To: " + to)
        lines.append("Contact: <sip:box@127.0.0.1:%d>" % self.sip_port)
        if extra:
            lines.append(extra)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        self.sip.sendto(data, addr)

    def _sdp(self):
        pts = "0 %d" % self.event_pt if self.events else "0"
        sdp = ["v=0", "o=box 1 1 IN IP4 127.0.0.1", "s=zerotap", "c=IN IP4 127.0.0.1", "t=0 0",
               "m=audio %d RTP/AVP %s" % (self.rtp_port, pts), "a=rtpmap:0 PCMU/8000"]
        if self.events:
            sdp += ["a=rtpmap:%d telephone-event/8000" % self.event_pt,
                    "a=fmtp:%d 0-15" % self.event_pt]
        sdp.append("a=sendrecv")
        return ("\r\n".join(sdp) + "\r\n").encode()

    def poll(self, seconds):
        """Handle SIP and collect RTP for SECONDS."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.sip, self.rtp], [], [], left)
            for s in r:
                data, addr = s.recvfrom(65536)
                if s is self.rtp:
                    self.packets.append((time.monotonic(), data))
                else:
                    self._sip(data.decode(errors="replace"), addr)

    def _sip(self, msg, addr):
        first = msg.split("\r\n", 1)[0]
        method = first.split(" ", 1)[0]
        if method == "INVITE":
            self.offer = msg.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in msg else ""
            # Answer with the offer's own payload type for telephone-event/8000 (RFC 3264).
            m = re.search(r"a=rtpmap:(\d+) telephone-event/8000", self.offer)
            if m:
                self.event_pt = int(m.group(1))
            self._reply(msg, addr, 100, "Trying")
            self._reply(msg, addr, 200, "OK", self._sdp(),
                        "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS")
        elif method == "ACK":
            self.established = True
        elif method == "BYE":
            self._reply(msg, addr, 200, "OK")
            self.ended = True
        elif method in ("OPTIONS", "INFO", "UPDATE", "NOTIFY", "SUBSCRIBE"):
            self._reply(msg, addr, 200, "OK")
        elif method.startswith("SIP/"):
            pass
        else:
            self._reply(msg, addr, 405, "Method Not Allowed")


class Linphonec:
    """linphonec, headless, with its own HOME and rc, driven through its standard input (a pipe
    kept open, as INTEROP.md asks of a FIFO)."""

    def __init__(self, workdir, rfc2833=True):
        self.exe = need("linphonec", "the Debian package linphone-cli")
        self.home = Path(workdir) / "home"
        (self.home / ".local/share/linphone").mkdir(parents=True, exist_ok=True)
        self.rc = Path(workdir) / "linphonerc"
        self.log = Path(workdir) / "linphone.log"
        self.out = Path(workdir) / "linphone.out"
        sip_port = free_udp_port()
        rtp_port = free_udp_port()
        rc = [
            "[sip]", "sip_port=%d" % sip_port, "sip_tcp_port=0", "sip_tls_port=0",
            "bind_address=127.0.0.1", "use_ipv6=0", "guess_hostname=0",
            "media_encryption=none", "use_rfc2833=%d" % (1 if rfc2833 else 0), "use_info=0",
            "[rtp]", "audio_rtp_port=%d" % rtp_port, "bind_address=127.0.0.1",
            "[sound]", "echocancellation=0",
            "[audio_codec_0]", "mime=PCMU", "rate=8000", "enabled=1",
            "[audio_codec_1]", "mime=PCMA", "rate=8000", "enabled=0",
            "[audio_codec_2]", "mime=opus", "rate=48000", "enabled=0",
            "[audio_codec_3]", "mime=speex", "rate=8000", "enabled=0",
            "[audio_codec_4]", "mime=GSM", "rate=8000", "enabled=0",
        ]
        self.rc.write_text("\n".join(rc) + "\n")
        env = dict(os.environ, HOME=str(self.home))
        self.proc = subprocess.Popen(
            [self.exe, "-c", str(self.rc), "-d", "6", "-l", str(self.log)],
            stdin=subprocess.PIPE,
            stdout=open(self.out, "wb"), stderr=subprocess.STDOUT, env=env)

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


def linphone_dtmf(workdir, keys, rfc2833=True, spacing=1.0):
    """Call our answerer from linphonec, type KEYS as DTMF during the call; return the answerer
    (its .packets hold every RTP packet linphonec sent, STUN filtered out)."""
    ans = Answerer(events=rfc2833)
    lp = Linphonec(workdir, rfc2833=rfc2833)
    try:
        time.sleep(1.0)
        lp.send("soundcard use files")
        lp.send("call sip:box@127.0.0.1:%d" % ans.sip_port)
        deadline = time.monotonic() + 20
        while not ans.established and time.monotonic() < deadline:
            ans.poll(0.1)
        if not ans.established:
            raise AssertionError("linphonec never established the call; see %s" % lp.log)
        ans.poll(0.5)
        for key in keys:
            lp.send(key)
            ans.poll(spacing)
        # linphonec reads about one command line per second: let it catch up before hanging up.
        ans.poll(2.0)
        lp.send("terminate")
        ans.poll(0.5)
    finally:
        lp.stop()
        ans.close()
    ans.packets = [(t, p) for t, p in ans.packets if len(p) >= 12 and p[0] >> 6 == 2]
    return ans
