"""The button (short press = toggle verified, hold = next call) and the keypad codes."""
from zerotap import status as st
from zerotap.ui import button, gallery
from zerotap.ui.button import SWITCH_CALL, TOGGLE_VERIFIED, Button
from zerotap.ui.keypad import ACTION, FORWARD, KeypadMatcher


def _press(b, start, length, step=10):
    """Levels every STEP ms: pressed from START for LENGTH ms; returns the actions with times."""
    out = []
    t = start
    while t <= start + length + 200:
        a = b.update(start <= t < start + length, t)
        if a:
            out.append((a, t))
        t += step
    return out


def test_short_press_toggles_on_release():
    b = Button(debounce_ms=30, hold_ms=800)
    acts = _press(b, 100, 200)
    assert acts == [(TOGGLE_VERIFIED, 330)], acts


def test_hold_switches_once_and_release_does_not_toggle():
    b = Button(debounce_ms=30, hold_ms=800)
    acts = _press(b, 100, 2000)
    assert acts == [(SWITCH_CALL, 900)], acts


def test_bounces_shorter_than_debounce_are_ignored():
    b = Button(debounce_ms=30, hold_ms=800)
    out = []
    for t, level in ((0, 1), (5, 0), (12, 1), (18, 0), (25, 0), (100, 0), (200, 0)):
        a = b.update(level, t)
        if a:
            out.append(a)
    assert out == [] and not b.pressed


def test_bad_timings_are_refused():
    try:
        Button(debounce_ms=50, hold_ms=40)
        raise AssertionError("accepted")
    except ValueError as e:
        assert str(e) == "hold_ms must be longer than debounce_ms"


def test_apply_toggles_only_secure_calls_and_switches():
    box = gallery.two_calls()
    first = box.shown_call()
    assert button.apply(TOGGLE_VERIFIED, box) and first.verified
    assert button.apply(TOGGLE_VERIFIED, box) and not first.verified
    assert button.apply(SWITCH_CALL, box)
    second = box.shown_call()
    assert second is not first and second.security == st.CLEAR
    assert not button.apply(TOGGLE_VERIFIED, box) and not second.verified
    assert not button.apply(TOGGLE_VERIFIED, gallery.idle())
    try:
        button.apply("explode", box)
        raise AssertionError("accepted")
    except ValueError as e:
        assert str(e) == "unknown action 'explode'"


def _feed(m, keys, t0=0, step=100):
    out = []
    t = t0
    for k in keys:
        out += m.feed(k, t)
        t += step
    return out


def test_default_codes_are_caught_and_not_forwarded():
    m = KeypadMatcher()
    assert _feed(m, "*#1") == [(ACTION, button.SET_VERIFIED)]
    assert _feed(m, "*#0") == [(ACTION, button.SET_UNVERIFIED)]
    assert m.held == ""


def test_other_keys_pass_through_in_order():
    m = KeypadMatcher()
    assert _feed(m, "12") == [(FORWARD, "1"), (FORWARD, "2")]
    assert _feed(m, "*5") == [(FORWARD, "*5")]
    assert _feed(m, "*#9") == [(FORWARD, "*#9")]
    # a false start followed by a real code: the stray key goes on, the code is caught
    assert _feed(m, "**#1") == [(FORWARD, "*"), (ACTION, button.SET_VERIFIED)]


def test_held_keys_are_released_after_the_timeout():
    m = KeypadMatcher(timeout_ms=3000)
    assert m.feed("*", 0) == [] and m.deadline() == 3000
    assert m.poll(2999) == []
    assert m.poll(3000) == [(FORWARD, "*")]
    assert m.deadline() is None
    # "*" times out, and "#" alone cannot start a code: both go on, in order
    assert m.feed("*", 5000) == [] and m.feed("#", 9000) == [(FORWARD, "*#")]
    assert m.held == ""


def test_codes_are_configurable():
    m = KeypadMatcher({"##7": "verified", "##8": "switch_call"})
    assert _feed(m, "*#1") == [(FORWARD, "*"), (FORWARD, "#1")]
    assert _feed(m, "##8") == [(ACTION, "switch_call")]
    box = gallery.two_calls()
    for kind, value in _feed(m, "##7"):
        assert kind == ACTION
        button.apply(value, box)
    assert box.shown_call().verified


def test_bad_codes_name_the_key():
    cases = (
        ({"*": "verified"}, "keypad.*: a code has at least 2 keys"),
        ({"*x1": "verified"}, "keypad.*x1: 'x' is not a DTMF key (0-9 * # A-D)"),
        ({"*#1": "hangup"}, "keypad.*#1: unknown action 'hangup'"),
        ({"*#": "verified", "*#1": "unverified"}, "keypad.*#: is the start of code *#1"),
    )
    for codes, message in cases:
        try:
            KeypadMatcher(codes)
            raise AssertionError("accepted %r" % (codes,))
        except ValueError as e:
            assert str(e) == message, str(e)
    try:
        KeypadMatcher().feed("x", 0)
        raise AssertionError("accepted x")
    except ValueError as e:
        assert str(e) == "not a DTMF key: 'x'"
