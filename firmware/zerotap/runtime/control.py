"""The local control: a loopback UDP socket that takes one command per datagram.

    verify CALL [SAS]   mark call CALL's SAS as verified (both parties read it aloud and it
                     matched); with SAS (what was read: the web page sends it), refused unless
                     it is still the call's SAS (a new exchange since brought another)
    unverify CALL [SAS]  take that back
    toggle_verified  the board button's short press: toggle verified on the shown call
    switch_call      the board button's long press: show the next call
    retry_fallback CALL  start call CALL's ICE fallback again (docs/fallback.md): after a
                     failure, or at once while it waits for ZRTP on the provider path
    status           the box, every call and the screen shown, as JSON
    stop             end the calls, write the cache, exit
    fault ...        tests only (a box started with ZEROTAP_FAULTS=1): ``fault CALL WHERE`` or
                     ``fault next WHERE`` makes a call's media handler, timer or ZRTP engine
                     raise (WHERE: media, timer, engine); ``fault loop`` makes the loop raise

Every answer is one JSON object: ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.
``python -m zerotap control [-c CONFIG.json | --to HOST:PORT] verify 3`` sends one. Only loopback
sources are served (the socket binds a loopback address; config refuses anything else).
"""
import json

from zerotap import states


class Control:
    def __init__(self, box, addr):
        self.box = box
        self.ep = box.loop.open(addr[0], addr[1], self._on_datagram)

    def _on_datagram(self, ep, data, n, addr, now):
        if not (addr[0].startswith("127.") or addr[0] == "::1"):
            return
        try:
            words = bytes(data[:n]).decode().split()
        except (UnicodeError, ValueError):
            words = []
        try:
            reply = self.command(words)
        except ValueError as e:
            reply = {"ok": False, "error": str(e)}
        ep.send(json.dumps(reply).encode(), addr)

    def _call(self, words, most=2):
        if not 2 <= len(words) <= most or not words[1].isdigit():
            raise ValueError("usage: %s CALL" % (words[0] if words else "verify"))
        number = int(words[1])
        for call in self.box.status.calls:
            if call.call == number:
                return call
        raise ValueError("no call %d" % number)

    def command(self, words):
        if not words:
            raise ValueError("empty command")
        cmd = words[0]
        if cmd in ("verify", "unverify"):
            call = self._call(words, 3)
            if call.security != states.SECURE:
                raise ValueError("call %d is not secure" % call.call)
            if len(words) == 3 and words[2] != call.sas:
                raise ValueError("call %d's SAS is now %s, not %s" % (call.call, call.sas,
                                                                   words[2]))
            self.box.action(states.SET_VERIFIED if cmd == "verify" else states.SET_UNVERIFIED, call)
            return {"ok": True, "call": call.as_dict()}
        if cmd == states.TOGGLE_VERIFIED:
            call = self.box.status.shown_call()
            if call is None or call.security != states.SECURE:
                raise ValueError("no secure call shown")
            self.box.action(cmd, call)
            return {"ok": True, "call": call.as_dict()}
        if cmd == states.RETRY_FALLBACK:
            call = self._call(words)
            if self.box.action(cmd, call) is None:
                raise ValueError("call %d has no ICE fallback to retry (it runs, or the call "
                                 "has none)" % call.call)
            return {"ok": True, "call": call.as_dict()}
        if cmd == states.SWITCH_CALL:
            call = self.box.action(cmd)
            return {"ok": True, "call": call.as_dict() if call else None}
        if cmd == "status":
            st = self.box.status
            calls = []
            for c in st.calls:
                d = c.as_dict()
                counters = getattr(c, "counters", None)
                if counters is not None:
                    d["media"] = counters.as_dict()
                calls.append(d)
            reply = {"ok": True}
            reply.update(st.as_dict())
            reply["calls"] = calls
            front = self.box.front
            if front is not None:
                # what the panel shows now (a change is drawn at the loop's next turn)
                reply["screen"] = front.display.screen
                reply["dimmed"] = front.display.dimmed
            return reply
        if cmd == "fault":  # tests only: the box refuses it unless started with ZEROTAP_FAULTS=1
            call = self.box.inject_fault(words[1:])
            return {"ok": True, "call": call.as_dict() if call else None}
        if cmd == "stop":
            self.box.stop()
            return {"ok": True}
        raise ValueError("unknown command %r (verify, unverify, toggle_verified, switch_call, "
                         "retry_fallback, status, stop)" % cmd)
