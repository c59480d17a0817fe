"""Every screen at both sizes matches its golden PNG pixel for pixel (made under MicroPython; this
file runs under both interpreters), and each status picks the screen it must."""
from vectors import VECTORS

from zerotap import status as st
from zerotap.ui import canvas, gallery, png, screens


def _render(box, w, h, log=None):
    buf = bytearray(canvas.buffer_size(w, h))
    name = screens.render(box, canvas.frame(buf, w, h), w, h, log)
    return name, buf


def _diff(a, b, w, h):
    n = 0
    for y in range(h):
        for x in range(w):
            if canvas.get_pixel(a, w, x, y) != canvas.get_pixel(b, w, x, y):
                n += 1
    return n


def test_every_screen_matches_its_golden_png():
    checked = 0
    bad = []
    for sample, build, want in gallery.SAMPLES:
        for w, h in screens.SIZES:
            name, buf = _render(build(), w, h)
            assert name == want, (sample, name, want)
            gw, gh, golden = png.read("%s/ui_%s_%dx%d.png" % (VECTORS, sample, w, h))
            assert (gw, gh) == (w, h)
            if bytes(buf) != bytes(golden):
                bad.append("%s %dx%d: %d pixels differ" % (sample, w, h, _diff(buf, golden, w, h)))
            checked += 1
    assert not bad, bad
    assert checked == 2 * len(gallery.SAMPLES)


def test_every_screen_is_covered_by_a_golden_image():
    shown = [want for _, _, want in gallery.SAMPLES]
    for name in screens.SCREENS:
        assert name in shown, name


def test_secure_shows_lock_sas_and_algorithms_on_one_line():
    log = []
    _render(gallery.secure(), 128, 64, log)
    assert "icon:lock" in log and "SECURE" in log and "ouga" in log
    assert "DH3k AES1 HS80 S256" in log


def test_b256_shows_two_words():
    log = []
    _render(gallery.secure_b256(), 128, 64, log)
    assert "aardvark" in log and "adroitness" in log


def test_b32_sas_spans_the_width():
    name, buf = _render(gallery.secure(), 128, 64)
    lit = [x for x in range(128) for y in range(11, 43) if canvas.get_pixel(buf, 128, x, y)]
    assert min(lit) < 16 and max(lit) > 112, (min(lit), max(lit))


def test_mismatch_and_alarm_invert_the_panel():
    for build in (gallery.mismatch, gallery.alarm):
        for w, h in screens.SIZES:
            _, buf = _render(build(), w, h)
            lit = sum(canvas.get_pixel(buf, w, x, y) for y in range(h) for x in range(w))
            assert lit > w * h // 2, (build, w, h, lit)


def test_config_error_names_the_key():
    log = []
    assert _render(gallery.config_error(), 128, 64, log)[0] == screens.CONFIG_ERROR
    assert "phone.allow[1]" in log


def test_failed_shows_the_reason():
    for w, h in screens.SIZES:
        log = []
        _render(gallery.failed(), w, h, log)
        assert "no ZRTP Hello from" in log and "the peer" in log and "FAILED" in log


def test_second_call_indicator_and_switch():
    box = gallery.two_calls()
    log = []
    assert _render(box, 128, 64, log)[0] == screens.SECURE
    assert "1/2" in log and screens.HOLD_HINT in log
    box.select_next()
    log = []
    assert _render(box, 128, 64, log)[0] == screens.RINGING
    assert "2/2" in log
    assert "SECURE" not in log and "icon:lock" not in log


def test_cache_mismatch_is_never_shown_as_plain_secure():
    box = gallery.mismatch()
    call = box.shown_call()
    call.set_verified(True)  # refused by the model, and the screen stays a warning
    assert _render(box, 128, 64)[0] == screens.MISMATCH


def test_alarm_on_a_call_that_is_not_secure_says_nothing_of_security():
    box = gallery.negotiating()
    box.shown_call().alarm("plain RTP before ZRTP")
    log = []
    assert _render(box, 128, 32, log)[0] == screens.ALARM
    for s in log:
        assert "SECURE" not in s.upper() and s != "icon:lock", s


def test_text_is_clipped_not_crashing():
    box = st.BoxStatus()
    box.set_network(True, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
    call = box.new_call(1, "in", "sip:" + "x" * 200 + "@example.org")
    call.fail("y" * 300)
    for w, h in screens.SIZES:
        assert _render(box, w, h)[0] == screens.FAILED


def test_too_small_a_panel_is_refused():
    try:
        _render(st.BoxStatus(), 96, 16)
        raise AssertionError("accepted 96x16")
    except ValueError as e:
        assert str(e) == "panel 96x16 is too small: 128x32 at least"


def test_a_warning_on_a_call_not_shown_takes_the_panel():
    # Two calls; the panel on call 1, secure and verified. The person talks on call 2 (the
    # phone put call 1 on hold), whose exchange ends in a cache mismatch (a possible man in
    # the middle): the panel went on showing call 1's SECURE VERIFIED, the warning hidden
    # behind it until someone held the button. The same for an alarm (unauthenticated media).
    box = st.BoxStatus()
    box.set_network(True, "192.0.2.2")
    one = box.new_call(1, "out", "sip:bob@192.0.2.9")
    one.set_secure("ouga", "B32", "S256", "AES1", "HS80", "X255", "00" * 12, st.CACHE_MATCH, True)
    two = box.new_call(2, "in", "sip:carol@192.0.2.10")
    assert _render(box, 128, 64)[0] == screens.VERIFIED
    two.set_secure("8ejk", "B32", "S256", "AES1", "HS80", "X255", "11" * 12, st.CACHE_MISMATCH,
                   False)
    log = []
    name, _ = screens.render(box, canvas.frame(bytearray(1024), 128, 64), 128, 64, log), None
    assert name == screens.MISMATCH and "8ejk" in log and "2/2" in log, (name, log)
    box.select_next()  # the person looks at call 1 again: their choice
    assert _render(box, 128, 64)[0] == screens.VERIFIED
    three = box.new_call(3, "in", "sip:dave@192.0.2.11")
    three.set_secure("abcd", "B32", "S256", "AES1", "HS80", "X255", "22" * 12, st.CACHE_NEW,
                     False)
    assert _render(box, 128, 64)[0] == screens.VERIFIED
    three.alarm("12 unauthenticated media packets from the network after SECURE")
    assert box.shown_call() is three and _render(box, 128, 64)[0] == screens.ALARM
