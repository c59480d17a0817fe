"""linphonec types DTMF during a call on loopback, and a tiny SIP answerer of ours records the RTP
it sends. The answerer speaks SIP through zerotap.sip (message.parse, make_response), which
host_tests/cpython/test_sip_linphone.py proves against linphonec; linphonec is driven by the
general driver, linphone.Linphone.

    ans = linphone_dtmf(tmp_path, "0123#", rfc2833=True)
    ans.packets                     # [(arrival seconds, RTP packet)] linphonec sent, STUN left out
    ans.event_pt                    # the telephone-event payload type of the offer
"""
import select
import socket
import time
from pathlib import Path

from linphone import Linphone
from zerotap.sip import message, sdp


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

    def close(self):
        self.sip.close()
        self.rtp.close()

    def _reply(self, req, addr, code, body=b"", extra=()):
        resp = message.make_response(req, code, to_tag="zt1")
        resp.add("Contact", "<sip:box@127.0.0.1:%d>" % self.sip_port)
        for name, value in extra:
            resp.add(name, value)
        if body:
            resp.add("Content-Type", "application/sdp")
        resp.body = body
        self.sip.sendto(resp.serialize(), addr)

    def _sdp(self):
        pts = "0 %d" % self.event_pt if self.events else "0"
        lines = ["v=0", "o=box 1 1 IN IP4 127.0.0.1", "s=zerotap", "c=IN IP4 127.0.0.1", "t=0 0",
                 "m=audio %d RTP/AVP %s" % (self.rtp_port, pts), "a=rtpmap:0 PCMU/8000"]
        if self.events:
            lines += ["a=rtpmap:%d telephone-event/8000" % self.event_pt,
                      "a=fmtp:%d 0-15" % self.event_pt]
        lines.append("a=sendrecv")
        return ("\r\n".join(lines) + "\r\n").encode()

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
                    continue
                try:
                    msg = message.parse(data)
                except message.ParseError:
                    continue  # a keep-alive, say: nothing to answer
                self._sip(msg, addr)

    def _sip(self, msg, addr):
        if not msg.is_request:
            return
        if msg.method == "INVITE":
            self.offer = sdp.parse(msg.body)
            # Answer with the offer's own payload type for telephone-event/8000 (RFC 3264).
            for pt, encoding in self.offer.media[0].rtpmap().items():
                if encoding.lower() == "telephone-event/8000":
                    self.event_pt = int(pt)
            self._reply(msg, addr, 100)
            self._reply(msg, addr, 200, self._sdp(),
                        [("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS")])
        elif msg.method == "ACK":
            self.established = True
        elif msg.method == "BYE":
            self._reply(msg, addr, 200)
            self.ended = True
        elif msg.method in ("OPTIONS", "INFO", "UPDATE", "NOTIFY", "SUBSCRIBE"):
            self._reply(msg, addr, 200)
        else:
            self._reply(msg, addr, 405)


def linphone_dtmf(workdir, keys, rfc2833=True, spacing=1.0):
    """Call our answerer from linphonec, type KEYS as DTMF during the call; return the answerer
    (its .packets hold every RTP packet linphonec sent, STUN filtered out)."""
    ans = Answerer(events=rfc2833)
    lp = Linphone(Path(workdir) / "linphonec", rfc2833=rfc2833)
    try:
        lp.start()
        lp.call("sip:box@127.0.0.1:%d" % ans.sip_port)
        deadline = time.monotonic() + 20
        while not ans.established and time.monotonic() < deadline:
            ans.poll(0.1)
        if not ans.established:
            raise AssertionError("linphonec never established the call; see %s" % lp.log)
        ans.poll(0.5)
        for key in keys:
            lp.command(key)
            ans.poll(spacing)
        # linphonec reads about one command line per second: let it catch up before hanging up.
        ans.poll(2.0)
        lp.terminate_call()
        ans.poll(0.5)
    finally:
        lp.stop()
        ans.close()
    ans.packets = [(t, p) for t, p in ans.packets if len(p) >= 12 and p[0] >> 6 == 2]
    return ans
