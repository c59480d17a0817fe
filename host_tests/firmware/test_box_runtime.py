"""The host runtime on real loopback sockets, under both interpreters: the UDP wait helper, its
timers and stop, a whole Box with its control socket, and its front panel (display and button)
following the control's and the button's actions."""
import json
import os
import socket

from support import scratch
from zerotap import config
from zerotap import status as st
from zerotap.runtime import box as runtime_box
from zerotap.runtime import boot, udp
from zerotap.ui import display, frontpanel, panels, png, screens


def _free_pair(loop, handler):
    # a random window keeps parallel test runs apart
    low = 20000 + 2 * (int.from_bytes(os.urandom(2), "big") % 5000)
    return loop.open_pair("127.0.0.1", low, low + 400, handler)


def test_datagrams_timers_and_stop():
    loop = udp.Loop()
    got = []

    def handler(ep, data, n, addr, now):
        got.append((ep.port, bytes(data[:n]), addr))

    a, b = _free_pair(loop, handler)
    assert b.port == a.port + 1 and a.port % 2 == 0
    assert a.send(b"hello", ("127.0.0.1", b.port))
    assert b.send(b"world", ("127.0.0.1", a.port))

    class App:
        fired = 0
        deadline = loop.clock() + 30

        def timer(self):
            return self.deadline

        def handle_timer(self, now):
            self.fired += 1
            self.deadline = now + 30
            if self.fired == 3:
                loop.stop()

    t0 = loop.clock()
    app = App()
    loop.run(app)
    assert app.fired == 3 and loop.clock() - t0 >= 60
    assert sorted(got) == sorted([(b.port, b"hello", ("127.0.0.1", a.port)),
                                  (a.port, b"world", ("127.0.0.1", b.port))])
    loop.close_all()
    assert a.closed and b.closed


def test_clock_is_monotonic():
    c = udp.Clock()
    last = c()
    for _ in range(1000):
        now = c()
        assert now >= last
        last = now


def test_send_errors_are_counted_not_raised():
    loop = udp.Loop()
    a, b = _free_pair(loop, lambda *args: None)
    assert not a.send(b"x" * 70000, ("127.0.0.1", b.port))  # larger than any datagram
    assert a.send_errors == 1
    loop.close_all()


def _config(tmp, **extra):
    loop = udp.Loop()
    ports = []
    for _ in range(3):
        p, q = _free_pair(loop, lambda *args: None)
        ports.append(p.port)
    loop.close_all()
    low = ports[0] + 1000
    raw = {
        "phone": {"sip": "127.0.0.1:%d" % ports[0], "allow": ["127.0.0.1"],
                  "rtp": "%d-%d" % (low, low + 9)},
        "network": {"sip": "127.0.0.1:%d" % ports[1], "rtp": "%d-%d" % (low + 10, low + 19)},
        "status": tmp + "/status.jsonl",
        "control": "127.0.0.1:%d" % ports[2],
    }
    raw.update(extra)
    return config.parse(raw)


def test_box_answers_its_control_socket_and_stops():
    tmp = scratch("box")
    cfg = _config(tmp)
    logs = []
    b = runtime_box.Box(cfg, log=logs.append, name="T")
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = socket.getaddrinfo(cfg.control[0], cfg.control[1])[0][-1]
    answers = []
    try:
        for cmd in (b"status", b"verify 7", b"verify", b"dance", b"stop"):
            client.sendto(cmd, dest)
            b.loop.run_once(500)
            answers.append(json.loads(client.recv(4096)))
    finally:
        client.close()
        b.shutdown()
    assert answers[0] == {"ok": True, "network": "down", "ip": None, "registered": False,
                          "transport": "UDP", "public": None, "registration_error": None,
                          "warning": None, "config_error": None, "config_fallback": False,
                          "calls": []}
    assert answers[1] == {"ok": False, "error": "no call 7"}
    assert answers[2] == {"ok": False, "error": "usage: verify CALL"}
    assert answers[3] == {"ok": False, "error": "unknown command 'dance' (verify, unverify, "
                                                "toggle_verified, switch_call, retry_fallback, "
                                                "status, stop)"}
    assert answers[4] == {"ok": True} and b.loop.stopping
    assert logs[-1] == "stopped"
    # a SIP OPTIONS through the phone side reaches nobody (no route), and is answered by nobody,
    # but the status stream file exists and is JSON lines
    with open(tmp + "/status.jsonl") as f:
        for line in f:
            json.loads(line)


def _secure(call):
    call.set_state(st.ACTIVE)
    call.set_secure("ouga", "B32", "S256", "AES1", "HS80", "X255", "00" * 12, st.CACHE_NEW, False)


def _front(**kw):
    panel = panels.MemoryPanel()
    return frontpanel.FrontPanel(display.Display(panel, kw.pop("status")), **kw), panel


class _Pin:
    level = False

    def pressed(self):
        return self.level


def test_control_actions_redraw_the_display():
    tmp = scratch("front")
    cfg = _config(tmp)
    status = st.BoxStatus()
    front, panel = _front(status=status)
    b = runtime_box.Box(cfg, log=lambda text: None, status=status, front=front)
    one = status.new_call(1, "out", "sip:bob@192.0.2.9")
    _secure(one)
    status.new_call(2, "in", "sip:carol@192.0.2.10")
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = socket.getaddrinfo(cfg.control[0], cfg.control[1])[0][-1]
    shown = []
    answers = []
    try:
        for cmd in (b"status", b"verify 1", b"status", b"switch_call", b"toggle_verified",
                    b"switch_call", b"toggle_verified", b"status"):
            client.sendto(cmd, dest)
            b.loop.run_once(500)
            answers.append(json.loads(client.recv(4096)))
            if cmd in (b"verify 1", b"switch_call"):
                assert b.timer() == 0  # a change is drawn at the loop's next turn
            b.handle_timer(b.loop.clock())
            shown.append(front.display.screen)
    finally:
        client.close()
        b.shutdown()
    assert shown == [screens.SECURE, screens.VERIFIED, screens.VERIFIED, screens.RINGING,
                     screens.RINGING, screens.VERIFIED, screens.SECURE, screens.SECURE], shown
    assert answers[2]["screen"] == screens.VERIFIED and answers[7]["screen"] == screens.SECURE
    assert answers[4] == {"ok": False, "error": "no secure call shown"}
    assert not one.verified and panel.shown == 5  # one frame per change, none for the others


def test_the_button_verifies_and_holds_to_switch():
    tmp = scratch("button")
    cfg = _config(tmp)
    status = st.BoxStatus()
    pin = _Pin()
    front, panel = _front(status=status, pin=pin)
    b = runtime_box.Box(cfg, log=lambda text: None, status=status, front=front)
    try:
        one = status.new_call(1, "out", "sip:bob@192.0.2.9")
        _secure(one)
        status.new_call(2, "out", "sip:carol@192.0.2.10")
        now = 1000

        def hold(ms, level):
            t = now
            pin.level = level
            while t < now + ms:
                deadline = b.timer()
                assert deadline is not None and deadline <= t + frontpanel.POLL_MS
                b.handle_timer(t)
                t += 5
            return t

        now = hold(200, False)
        now = hold(150, True)  # a short press: verified
        now = hold(100, False)
        assert one.verified and front.display.screen == screens.VERIFIED
        now = hold(1200, True)  # held: the other call
        now = hold(100, False)
        assert status.shown_call().call == 2 and one.verified
        assert front.display.screen == screens.CALLING
    finally:
        b.shutdown()


def test_the_display_dims_on_a_quiet_secure_call_and_wakes():
    status = st.BoxStatus()
    status.set_network(True, "192.0.2.1")
    front, panel = _front(status=status)
    front.display.dim_after_ms = 5000
    one = status.new_call(1, "out", "sip:bob@192.0.2.9")
    front.handle_timer(0)
    assert front.timer() is None  # CLEAR never dims: nothing to do until the status changes
    _secure(one)
    assert front.timer() == 0
    front.handle_timer(100)
    assert front.timer() == 5100 and panel.level == display.BRIGHT
    front.handle_timer(5100)
    assert front.display.dimmed and panel.level == display.DIM and front.timer() is None
    one.set_verified(True)  # any call event wakes it
    front.handle_timer(5200)
    assert not front.display.dimmed and panel.level == display.BRIGHT


def test_the_host_panel_draws_in_the_terminal_and_writes_png():
    tmp = scratch("hostpanel")

    class Out:
        text = ""

        def write(self, s):
            self.text += s

    out = Out()
    cfg = config.parse({"phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"],
                                  "rtp": "40000-40009"},
                        "network": {"sip": "127.0.0.1:5080", "rtp": "42000-42009"},
                        "status": tmp + "/status.jsonl",
                        "board": {"display": {"terminal": True, "png": tmp + "/panel.png"}}})
    status = st.BoxStatus()
    front = boot.host_front_panel(cfg, status, "box A", out)
    status.set_network(True, "127.0.0.1")
    front.handle_timer(0)
    assert front.display.screen == screens.NETWORK_UP
    lines = out.text.split("\n")
    assert lines[0] == "\x1b[H\x1b[2J box A" + " " * 124  # clear the screen, the title
    assert lines[1] == "\u250c" + "\u2500" * 128 + "\u2510" and len(lines) == 32 + 4
    assert "\u2588" in out.text  # lit pixels as blocks
    width, height, pixels = png.read(tmp + "/panel.png")[:3]
    assert (width, height) == (384, 192)  # 3x
    quiet = config.parse({"phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"],
                                    "rtp": "40000-40009"},
                          "network": {"sip": "127.0.0.1:5080", "rtp": "42000-42009"}})
    assert boot.host_front_panel(quiet, status) is None  # off by default


# Modules an idle box must not load (issue 19): each costs heap even when frozen (its globals,
# functions and classes are made in RAM at import). They come when a call, a config or a page
# needs them: DNS with a proxy by name or network.dns, TLS with network.tls, the ICE fallback
# with ice, the web page with web; the pure AES and SHA-512 only on a backend without them.
NOT_AT_IDLE = ("zerotap.dns", "zerotap.runtime.resolver", "zerotap.ice", "zerotap.runtime.fallback",
               "zerotap.runtime.ice", "zerotap.runtime.http", "zerotap.runtime.web", "zerotap.web",
               "zerotap.crypto.aes", "zerotap.crypto.sha512", "zerotap.crypto.backend_python",
               "zerotap.dtmf")


def _fresh(prefix):
    """Take every module named PREFIX* out of sys.modules (so that the next import loads it
    again, as after a reset); returns what was taken, for _restore."""
    import sys
    return {k: sys.modules.pop(k) for k in list(sys.modules) if k == prefix or k.startswith(prefix + ".")}


def _restore(prefix, saved):
    import sys
    for k in list(sys.modules):
        if k == prefix or k.startswith(prefix + "."):
            del sys.modules[k]
    sys.modules.update(saved)


def test_an_idle_box_loads_no_module_it_does_not_use():
    import sys
    tmp = scratch("idle")
    cfg = _config(tmp, zrtp={"cache": tmp + "/cache"})  # the proxy is an address; no ice, web or tls
    ssl_before = "ssl" in sys.modules or "tls" in sys.modules
    saved = _fresh("zerotap")
    try:
        from zerotap.runtime import box as fresh_box, secure as fresh_secure
        b = fresh_box.Box(cfg, log=lambda text: None, name="I", secure_factory=fresh_secure.factory(cfg))
        try:
            b.loop.run_once(0)
            loaded = sorted(k for k in sys.modules if k.startswith("zerotap"))
        finally:
            b.shutdown()
    finally:
        _restore("zerotap", saved)
    wrong = [k for k in loaded for n in NOT_AT_IDLE if k == n or k.startswith(n + ".")]
    assert wrong == [], "an idle box loaded %s" % wrong
    assert "zerotap.runtime.box" in loaded and "zerotap.zrtp.engine" in loaded  # it did load the box
    if not ssl_before:
        assert "ssl" not in sys.modules and "tls" not in sys.modules, "an idle box without TLS loaded ssl"


def test_the_idle_loop_allocates_nothing_larger_than_the_limit():
    # the box's steady loop with no call (poll, its timers, the NAT upkeep, the status) on a heap
    # cut into holes of test_heap_budget's limit: a larger allocation raises MemoryError. Boot's
    # work comes first: the key pool filled (its DH3k numbers are 770-byte objects: the pool
    # works while no call has media, and is full before the loop is steady)
    import gc
    from test_heap_budget import LARGEST_32, _cut, _word
    tmp = scratch("steady")
    cfg = _config(tmp, zrtp={"cache": tmp + "/cache"})
    from zerotap.runtime import secure
    b = runtime_box.Box(cfg, log=lambda text: None, name="S", secure_factory=secure.factory(cfg))
    try:
        now = b.loop.clock()
        turns = 0
        while b.media_factory.pool_pending and turns < 5000:
            b.loop.run_once(0)
            b.handle_timer(b.loop.clock())
            b.loop.serve_timers()
            turns += 1
        assert not b.media_factory.pool_pending, "the key pool was not full after %d turns" % turns
        if not hasattr(gc, "mem_alloc"):
            return
        limit = LARGEST_32 * _word() // 4
        held = _cut(limit)
        try:
            turns = 0
            while turns < 200:
                b.loop.run_once(0)
                now = b.loop.clock()
                t = b.timer()
                if t is not None and t <= now:
                    b.handle_timer(now)
                b.loop.serve_timers()
                turns += 1
        finally:
            held = None
            gc.collect()
        assert turns == 200
    finally:
        b.shutdown()


def test_an_idle_box_holds_its_objects_within_the_budget():
    # the box's own objects once the key pool is full (config, status, proxy, loop and sockets,
    # ZRTP factory and cache, key pairs), with a board's SIP datagram limit (boot.py sets it: the
    # loop's one receive buffer is that large); against the 32-bit budget scaled for the unix port
    import gc
    from test_heap_budget import IDLE_OBJECTS_32, _scaled_call
    from zerotap.runtime import boot, secure
    tmp = scratch("objects")
    warm = _config(tmp, zrtp={"cache": tmp + "/warm"})
    warm.network.max_datagram = boot.BOARD_SIP_DATAGRAM
    b = runtime_box.Box(warm, log=lambda text: None, name="W", secure_factory=secure.factory(warm))
    b.shutdown()  # the first box loads the modules and interns their names
    b = None
    cfg = _config(tmp, zrtp={"cache": tmp + "/cache"})
    cfg.network.max_datagram = boot.BOARD_SIP_DATAGRAM
    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    b = runtime_box.Box(cfg, log=lambda text: None, name="O", secure_factory=secure.factory(cfg))
    try:
        turns = 0
        while b.media_factory.pool_pending and turns < 5000:
            b.loop.run_once(0)
            b.handle_timer(b.loop.clock())
            turns += 1
        gc.collect()
        held = gc.mem_alloc() - before if hasattr(gc, "mem_alloc") else 0
    finally:
        b.shutdown()
    print("heap: an idle box holds %d bytes of objects" % held)
    if hasattr(gc, "mem_alloc"):
        assert held <= _scaled_call(IDLE_OBJECTS_32), \
            "an idle box holds %d bytes (budget %d)" % (held, _scaled_call(IDLE_OBJECTS_32))


def test_a_name_dns_cannot_carry_fails_its_lookup_not_the_loop():
    """A name with a label over 63 bytes or an empty label (a far end's Contact or
    Record-Route host the box must send an ACK or BYE to; the SIP grammar allows both) cannot
    be put in a DNS question. Its location fails with the reason (the request is answered 503),
    and the names after it resolve. Before, the query builder's ValueError left
    Resolver.locate (out of the box's datagram handler: a loop fault, every call ended) and
    the location stayed among the resolver's waiting items, raising again from every later
    answer and timer."""
    from zerotap.runtime import resolver
    now = [1000]
    loop = udp.Loop(clock=lambda: now[0])
    r = resolver.Resolver(loop, [("127.0.0.1", 9)])
    got = []
    try:
        for name in ("x" * 64 + ".example.test", "a..example.test"):
            r.locate(lambda loc, targets: got.append((targets, loc.error)), name, port=5060,
                     transport="UDP")
        assert [t for t, _ in got] == [[], []], got
        assert "label longer than 63 bytes" in got[0][1] and "empty label" in got[1][1], got
        assert r.waiting == [] and r.client.pending == {}
        r.locate(lambda loc, targets: got.append((targets, loc.error)), "ok.example.test",
                 port=5060, transport="UDP")
        assert len(r.client.pending) == 1 and r.ep is not None  # its question went out
        now[0] += 20000
        loop.serve_timers()
        loop.serve_timers()
        loop.serve_timers()
    finally:
        r.close()
        loop.close_all()


class _FullLoop(udp.Loop):
    """A loop on a board whose lwIP sockets are all spoken for (10 in stock firmware): opening
    one more fails, as lwIP fails it (ENFILE), while ``full`` is set."""

    full = True

    def open(self, host, port, handler, max_datagram=udp.MAX_DATAGRAM):
        if self.full:
            raise OSError(23, "ENFILE")
        return udp.Loop.open(self, host, port, handler, max_datagram)


def test_a_lookup_with_no_socket_left_fails_that_lookup_not_the_loop():
    """The ICE helper's name is looked up from a timer (runtime.http) while a board has no
    socket left: the query's socket cannot be opened. That lookup waits for the resolver's
    retries and then fails with a reason; nothing raises out of the loop's timers (a loop fault
    ends every call)."""
    from zerotap.runtime import resolver
    now = [1000]
    loop = _FullLoop(clock=lambda: now[0])
    logs = []
    r = resolver.Resolver(loop, [("127.0.0.1", 53)], log=logs.append)
    got = []
    try:
        r.address(lambda ip, err: got.append((ip, err)), "helper.example.test")
        for _ in range(10):
            now[0] += 1000
            loop.serve_timers()
        assert got == [(None, "no answer from the resolver")], got
        assert r.ep is None and logs[0].startswith("dns: no socket for the query: "), logs
        loop.full = False  # a socket is free again: the next lookup goes out
        now[0] += 10000
        r.address(lambda ip, err: got.append((ip, err)), "helper.example.test")
        assert r.ep is not None and r.ep.sent == 1
    finally:
        r.close()
        loop.close_all()


class _GlitchPanel(panels.MemoryPanel):
    """An SSD1306 that stops answering on its I2C bus while ``broken``: micropython-lib's
    driver then raises OSError (ENODEV: no ACK) from ``show``."""

    broken = False

    def show(self, buf):
        if self.broken:
            raise OSError(19, "ENODEV")
        panels.MemoryPanel.show(self, buf)


def test_a_display_that_stops_answering_ends_no_call_and_not_the_loop():
    tmp = scratch("glitch")
    cfg = _config(tmp)
    status = st.BoxStatus()
    panel = _GlitchPanel()
    front = frontpanel.FrontPanel(display.Display(panel, status))
    logs = []
    b = runtime_box.Box(cfg, log=logs.append, status=status, front=front)
    try:
        one = status.new_call(1, "out", "sip:bob@192.0.2.9")
        panel.broken = True
        _secure(one)  # the SAS to draw, on a bus that does not answer
        b.handle_timer(b.loop.clock())
        assert any(t.startswith("display: ") for t in logs), logs
        assert status.calls == [one] and not b.loop.stopping
        panel.broken = False
        one.set_verified(True)  # the next change is drawn
        b.handle_timer(b.loop.clock())
        assert front.display.screen == screens.VERIFIED and panel.shown >= 1
    finally:
        b.shutdown()


class _Names:
    """The resolver seam of runtime.fallback (``address(done, host)``): what DNS says now, as
    the box's resolver gives it (its cache keeps an answer for its TTL, then asks again)."""

    def __init__(self, ip):
        self.ip = ip
        self.asked = 0

    def address(self, done, host):
        self.asked += 1
        done(self.ip, None)


class _Attempt:
    """A call's fallback as BoxFallback._servers sees it."""

    def __init__(self):
        self.ready = 0
        self.failed = None

    def agent_ready(self, now):
        self.ready += 1

    def fail(self, reason, now):
        self.failed = reason


def test_a_stun_server_name_is_resolved_again_once_its_address_may_have_changed():
    """``ice.stun`` (or a TURN server) by name: the fallback of a later call, months on, must
    not use the address the name had at the first call: the DNS answer's TTL (the resolver's
    cache) decides, not a table kept for the box's lifetime."""
    from zerotap.runtime import fallback as rfallback

    class _Cfg:
        ice = None
    now = [1000]
    loop = udp.Loop(clock=lambda: now[0])
    names = _Names("192.0.2.10")
    bf = rfallback.BoxFallback(_Cfg(), loop, None, resolver=names)
    servers = [("stun.example.test", 3478), None]

    def attempt():
        a = _Attempt()
        got = bf._servers(a, servers)
        if got is None:  # resolving: agent_ready, then the agent is made with the addresses
            assert a.ready == 1 and a.failed is None
            got = bf._servers(a, servers)
        return got
    try:
        assert attempt() == [("192.0.2.10", 3478), None]
        names.ip = "192.0.2.20"  # the server moved; the old answer's TTL ran out long ago
        now[0] += 30 * 86400 * 1000
        assert attempt() == [("192.0.2.20", 3478), None], names.asked
    finally:
        loop.close_all()


def test_a_press_applies_only_to_the_call_and_sas_shown_when_it_began():
    # The person presses the button on call 1's SAS (it matched); before the press ends,
    # call 1's far end hangs up and the panel shows call 2, whose SAS nobody compared: the
    # release verified call 2 (and the trust cache kept the flag for its peer). Likewise a new
    # exchange under the finger (the far media moved): the release verified its new SAS.
    tmp = scratch("press-race")
    cfg = _config(tmp)
    status = st.BoxStatus()
    pin = _Pin()
    front, panel = _front(status=status, pin=pin)
    b = runtime_box.Box(cfg, log=lambda text: None, status=status, front=front)
    t = [b.loop.clock()]

    def turns(ms, pressed):  # the loop's turns, 5 ms apart, the button held or not
        pin.level = pressed
        end = t[0] + ms
        while t[0] < end:
            t[0] += 5
            b.handle_timer(t[0])
    try:
        one = status.new_call(1, "out", "sip:bob@192.0.2.9")
        _secure(one)
        two = status.new_call(2, "in", "sip:carol@192.0.2.10")
        _secure(two)
        turns(100, False)
        assert status.shown_call() is one and front.display.screen == screens.SECURE
        turns(150, True)
        status.end_call(one)
        turns(50, True)
        assert status.shown_call() is two and front.display.screen == screens.SECURE
        turns(100, False)
        assert not two.verified
        turns(150, True)  # a press that began on call 2's SAS
        turns(100, False)
        assert two.verified and front.display.screen == screens.VERIFIED
        turns(150, True)
        two.rekeying()
        two.set_secure("zz99", "B32", "S256", "AES1", "HS80", "X255", "11" * 12, st.CACHE_NEW,
                       False)
        turns(50, True)
        assert front.display.screen == screens.SECURE
        turns(100, False)
        assert not two.verified
        turns(150, True)
        turns(100, False)
        assert two.verified
    finally:
        b.shutdown()


def test_the_fallback_s_names_go_to_the_resolver_of_the_new_lease():
    """A board whose config names no resolver takes the lease's (network.dns_source); the
    provider by address, so the box makes no resolver of its own at the start. The ICE
    fallback's names (the helper, STUN, TURN) are looked up through a resolver made on first
    use; after a new lease (another router) rebind re-points the box's resolver, but the
    fallback kept one of its own, toward the old network's resolver, out of reach: every
    later fallback failed with 'cannot resolve' until the board was reset."""
    tmp = scratch("fallback-lease")
    servers = udp.Loop()  # two resolvers that never answer: what each was asked
    asked = {}

    def heard(ep, data, n, addr, now):
        asked[ep.port] = asked.get(ep.port, 0) + 1
    old, new = _free_pair(servers, heard)
    lease = [[]]
    cfg = _config(tmp, ice={"helper_url": "http://helper.example.test:8080"})
    cfg.network.dns_source = lambda: lease[0]
    b = runtime_box.Box(cfg, log=lambda text: None, name="T")
    try:
        assert b.net.resolver is None and b.fallback is not None
        lease[0] = [("127.0.0.1", old.port)]  # a lease with a resolver now
        b.rebind("192.0.2.7", "192.0.2.8", b.loop.clock())
        b.fallback.resolve(lambda ip, err: None, "helper.example.test")
        assert _asked(b, servers, asked, old) == 1 and _asked(b, servers, asked, new) == 0
        lease[0] = [("127.0.0.1", new.port)]  # the router replaced
        b.rebind("192.0.2.8", "192.0.2.9", b.loop.clock())
        b.fallback.resolve(lambda ip, err: None, "stun.example.test")
        assert _asked(b, servers, asked, new) == 1, "the fallback asked the old resolver"
        b.resolve(lambda ip, err: None, "turn.example.test")  # the box's own names alike
        assert _asked(b, servers, asked, new) == 1 and _asked(b, servers, asked, old) == 0
    finally:
        b.shutdown()
        servers.close_all()


def _asked(b, servers, asked, server):
    """How many DNS questions reached SERVER (an endpoint of the loop SERVERS) meanwhile."""
    for _ in range(5):
        b.loop.run_once(10)
        servers.run_once(0)
    return asked.pop(server.port, 0)
