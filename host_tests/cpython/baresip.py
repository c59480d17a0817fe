"""baresip (Debian's baresip-core) as a SIP phone WITHOUT ZRTP: Debian builds it with no ZRTP
module, so it neither sends a=zrtp-hash nor answers ZRTP Hellos. linphonec cannot play that part:
it runs ZRTP even with media_encryption=none as soon as the other side offers it.

    phone = Baresip(tmp_path / "carol", "carol", sip_port, rtp_range, play=WAV).start()
    ...                             # it auto-answers; its received audio lands in phone.received()
    phone.stop()

It plays PLAY into every call (and hangs up when the file ends: give it a long file), and the
sndfile module writes what it decoded from the peer to ``rec/dump-*-dec.wav``.
"""
import subprocess
from pathlib import Path

from hostenv import need, stop_process, text_of, wait_until

MODULES = "/usr/lib/baresip/modules"


class Baresip:
    def __init__(self, directory, user, sip_port, rtp_range, play, ctrl_port):
        self.dir = Path(directory)
        self.user = user
        self.sip_port = sip_port
        self.rtp_range = rtp_range
        self.play = Path(play)
        self.ctrl_port = ctrl_port
        self.proc = None
        self.rec = self.dir / "rec"
        self.log_path = self.dir / "baresip.log"

    @property
    def uri(self):
        return "sip:%s@127.0.0.1:%d" % (self.user, self.sip_port)

    def start(self, timeout=10):
        exe = need("baresip", "the Debian package baresip-core")
        cfg = self.dir / "cfg"
        cfg.mkdir(parents=True, exist_ok=True)
        self.rec.mkdir(exist_ok=True)
        (cfg / "config").write_text("\n".join([
            "poll_method epoll",
            "sip_listen 127.0.0.1:%d" % self.sip_port,
            "net_interface 127.0.0.1",  # its SDP names 127.0.0.1, where its media comes from too
            "sip_transports udp",
            "audio_player aufile,/dev/null",
            "audio_source aufile,%s" % self.play,
            "audio_alert aufile,/dev/null",
            "rtp_ports %d-%d" % self.rtp_range,
            "module_path %s" % MODULES,
            "module g711.so", "module aufile.so", "module sndfile.so", "module account.so",
            "module menu.so", "module ctrl_tcp.so",
            "ctrl_tcp_listen 127.0.0.1:%d" % self.ctrl_port,
            "snd_path %s" % self.rec, ""]))
        (cfg / "accounts").write_text(
            "<sip:%s@127.0.0.1:%d>;regint=0;answermode=auto;audio_codecs=PCMU\n"
            % (self.user, self.sip_port))
        self.proc = subprocess.Popen([exe, "-f", str(cfg)], stdout=open(self.log_path, "wb"),
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if wait_until(lambda: "baresip is ready" in self.log(), timeout, self.proc):
            return self
        self.stop()
        raise AssertionError("baresip did not start:\n%s" % self.log()[-2000:])

    def log(self):
        return text_of(self.log_path)

    def received(self):
        """The WAV files of audio it decoded from its peers."""
        return sorted(self.rec.glob("dump-*-dec.wav"))

    def stop(self):
        stop_process(self.proc)
