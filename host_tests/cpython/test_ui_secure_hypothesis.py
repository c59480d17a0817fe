"""The display never says SECURE unless the shown call's security is "secure": Hypothesis drives
random sequences of status changes, button presses and keypad codes, and checks every frame."""
from hypothesis import given, settings
from hypothesis import strategies as s

import zerotap  # noqa: F401
from zerotap import status as st
from zerotap.ui import button, canvas, screens

OPS = s.one_of(
    s.tuples(s.just("new"), s.sampled_from(["in", "out"])),
    s.tuples(s.just("state"), s.sampled_from([st.ACTIVE, st.RINGING, st.CALLING])),
    s.tuples(s.just("negotiating"), s.none()),
    s.tuples(s.just("secure"), s.tuples(s.sampled_from(["ouga", "aardvark adroitness", "", None]),
                                        s.sampled_from(["B32", "B256", None]),
                                        s.sampled_from([st.CACHE_NEW, st.CACHE_MATCH, st.CACHE_MISMATCH, None]),
                                        s.booleans())),
    s.tuples(s.just("fail"), s.text(max_size=40)),
    s.tuples(s.just("alarm"), s.text(max_size=40)),
    s.tuples(s.just("end"), s.none()),
    s.tuples(s.just("button"), s.sampled_from(button.ACTIONS)),
    s.tuples(s.just("network"), s.booleans()),
    s.tuples(s.just("registered"), s.booleans()),
    s.tuples(s.just("config"), s.sampled_from([None, "phone.sip"])),
    s.tuples(s.just("pick"), s.integers(0, 3)),
)

SECURE_WORDS = ("SECURE", "VERIFIED")


def _step(box, op, arg, counter):
    call = box.calls[box.selected % len(box.calls)] if box.calls else None
    if op == "new":
        counter[0] += 1
        box.new_call(counter[0], arg, "sip:peer%d@example.org" % counter[0])
    elif op == "pick" and box.calls:
        box.calls[arg % len(box.calls)].negotiating()
    elif op == "network":
        box.set_network(arg, "10.0.0.%d" % counter[0] if arg else None)
    elif op == "registered":
        box.set_registered(arg)
    elif op == "config":
        box.set_config_error(arg, "bad" if arg else None)
    elif op == "button":
        button.apply(arg, box)
    elif call is None:
        return
    elif op == "state":
        call.set_state(arg)
    elif op == "negotiating":
        call.negotiating()
    elif op == "secure":
        sas, sas_type, cache, verified = arg
        call.set_secure(sas, sas_type, "S256", "AES1", "HS80", "DH3k", "00" * 12, cache, verified)
    elif op == "fail":
        call.fail(arg)
    elif op == "alarm":
        call.alarm(arg)
    elif op == "end":
        box.end_call(call)


@settings(max_examples=150, deadline=None)
@given(s.lists(OPS, max_size=25), s.sampled_from(screens.SIZES))
def test_secure_only_when_the_shown_call_is_secure(ops, size):
    w, h = size
    box = st.BoxStatus()
    counter = [0]
    buf = bytearray(canvas.buffer_size(w, h))
    fb = canvas.frame(buf, w, h)
    for op, arg in ops:
        _step(box, op, arg, counter)
        log = []
        name = screens.render(box, fb, w, h, log)
        call = box.shown_call()
        secure = call is not None and call.security == st.SECURE
        if not secure:
            assert name not in screens.SECURE_SCREENS, (name, op)
            assert "icon:lock" not in log, log
            for text in log:
                for word in SECURE_WORDS:
                    assert word not in text.upper(), (text, name)
            if call is not None and call.sas:
                assert call.sas not in log
        if name in (screens.SECURE, screens.VERIFIED):
            assert secure and not call.mitm
        if name == screens.VERIFIED:
            assert call.verified and call.cache != st.CACHE_MISMATCH
        if secure and call.mitm:
            assert name in (screens.MISMATCH, screens.ALARM)
