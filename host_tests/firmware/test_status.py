"""The status model: SECURE only through set_secure, and listeners see every change."""
import json

from zerotap import status


def _box():
    box = status.BoxStatus()
    seen = []
    box.listen(lambda b, call: seen.append((b.version, call.security if call else None)))
    return box, seen


def test_new_call_starts_clear_and_notifies():
    box, seen = _box()
    call = box.new_call(1, "out", "sip:bob@example.org")
    assert call.security == status.CLEAR and call.state == status.CALLING
    assert seen == [(1, status.CLEAR)]


def test_json_line_has_every_field():
    box, _ = _box()
    call = box.new_call(7, "in", "alice")
    line = json.loads(call.to_json())
    assert sorted(line) == sorted(status.FIELDS)
    assert line["call"] == 7 and line["direction"] == "in" and line["security"] == "clear"


def test_cache_mismatch_is_never_verified_and_flags_mitm():
    box, _ = _box()
    call = box.new_call(1, "out", "bob")
    call.set_secure("ouga", "B32", "S256", "AES1", "HS80", "DH3k", "00" * 12, status.CACHE_MISMATCH, True)
    assert call.security == status.SECURE and call.verified is False and call.mitm is True


def test_verify_only_applies_to_secure_calls():
    box, seen = _box()
    call = box.new_call(1, "out", "bob")
    call.set_verified(True)
    assert call.verified is False and len(seen) == 1
    call.set_secure("ouga", "B32", "S256", "AES1", "HS80", "X255", "ab" * 12, status.CACHE_NEW, False)
    call.set_verified(True)
    assert call.verified is True and len(seen) == 3


def test_failure_after_negotiating_keeps_the_reason():
    box, _ = _box()
    call = box.new_call(1, "out", "bob")
    call.negotiating()
    call.fail("no ZRTP Hello from the peer")
    assert call.security == status.FAILED and call.error == "no ZRTP Hello from the peer"


def test_a_verified_call_that_fails_no_longer_says_verified():
    # After SECURE and VERIFIED, the call fails (say the peer's media stops authenticating):
    # the status line must not go on saying verified beside security "failed".
    box, _ = _box()
    call = box.new_call(1, "out", "bob")
    call.set_secure("ouga", "B32", "S256", "AES1", "HS80", "X255", "ab" * 12, status.CACHE_MATCH, True)
    assert call.verified is True
    call.fail("SRTP authentication failing")
    line = json.loads(call.to_json())
    assert line["security"] == "failed" and line["verified"] is False and call.verified is False
    call.set_verified(True)
    assert call.verified is False


def test_selected_call_wraps_and_survives_ending():
    box, _ = _box()
    a = box.new_call(1, "out", "a")
    b = box.new_call(2, "in", "b")
    assert box.shown_call() is a
    box.select_next()
    assert box.shown_call() is b
    box.end_call(b)
    assert box.shown_call() is a and b.state == status.ENDED


def test_the_shown_call_stays_shown_when_an_earlier_call_ends():
    # Three calls, the panel on the second (the person reads its SAS, about to press the button
    # that marks the shown call verified). The first call ends: the panel went over to the third
    # call, one the person had not looked at, and the press verified that one.
    box, seen = _box()
    a = box.new_call(1, "in", "a")
    b = box.new_call(2, "in", "b")
    c = box.new_call(3, "in", "c")
    box.select_next()
    assert box.shown_call() is b
    box.end_call(a)
    assert box.shown_call() is b
    box.select_next()
    assert box.shown_call() is c
    box.end_call(b)  # the shown call is the one that ends: the one after it (wrapping) shows
    assert box.shown_call() is c
    box.end_call(c)
    assert box.shown_call() is None
    d = box.new_call(4, "out", "d")
    assert box.shown_call() is d
