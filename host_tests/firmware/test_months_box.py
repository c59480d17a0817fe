"""A box that runs for weeks without a reset (a board's uptime counter wraps, its clock grows
past small ints), the whole Box on loopback sockets, under both interpreters. The sans-IO parts
that a board runs (the rig) are in test_months.py."""
from support import scratch
from zerotap import config
from zerotap.runtime import box as runtime_box
from zerotap.runtime import secure, udp
from zerotap.zrtp import cache as zcache

DAY_MS = 86400 * 1000
_PERIOD = 1 << 30  # a board's time.ticks_ms wraps at 2**30 ms (12.4 days)


def _board_ticks(now):
    """time.ticks_ms and time.ticks_diff as a board has them, over the true milliseconds NOW[0]:
    the counter wraps at 2**30, a difference is told only within +-2**29 (6.2 days)."""
    def ticks_ms():
        return now[0] & (_PERIOD - 1)

    def ticks_diff(a, b):
        return ((a - b + (_PERIOD >> 1)) & (_PERIOD - 1)) - (_PERIOD >> 1)
    return ticks_ms, ticks_diff


def _config(tmp):
    loop = udp.Loop()
    ports = []
    for _ in range(3):
        a, b = loop.open_pair("127.0.0.1", 20000, 30000, lambda *args: None)
        ports.append(a.port)
    loop.close_all()
    low = ports[0] + 1000
    return config.parse({
        "phone": {"sip": "127.0.0.1:%d" % ports[0], "allow": ["127.0.0.1"], "rtp": "%d-%d" % (low, low + 9)},
        "network": {"sip": "127.0.0.1:%d" % ports[1], "rtp": "%d-%d" % (low + 10, low + 19)},
        "status": tmp + "/status.jsonl",
        "control": "127.0.0.1:%d" % ports[2],
        "zrtp": {"cache": tmp + "/cache"},
    })


def test_a_box_idle_for_a_week_expires_a_trust_cache_entry_on_time():
    # A peer's secret kept with a cache expiration interval of 7 days (the shorter of the two
    # Confirms, RFC 6189 section 4.9), then no call for 8 days: the box's loop turns all along,
    # nothing reads the trust cache's clock. The peer dropped its secret after 7 days; a box
    # that still holds it takes the next call's different secret for a cache mismatch (the
    # man-in-the-middle alarm) where the peer says "new". On a board the uptime counter
    # (time.ticks_ms) wraps at 2**30 ms and ticks_diff tells 8 days (over 2**29 ms) as minus
    # 4.4: the cache's clock, read only by calls, lost the whole week.
    tmp = scratch("months_cache")
    cfg = _config(tmp)
    now = [5 * DAY_MS]  # up 5 days already
    saved = zcache._uptime_ms
    ticks = _board_ticks(now)
    zcache._uptime_ms = lambda: ticks
    try:
        factory = secure.factory(cfg)
    finally:
        zcache._uptime_ms = saved
    b = runtime_box.Box(cfg, loop=udp.Loop(clock=lambda: now[0]), log=lambda text: None, name="M",
                        secure_factory=factory)
    try:
        peer = bytes(range(1, 13))
        assert factory.cache.store(peer, bytes(32), 7 * 86400)
        assert factory.cache.get(peer) is not None
        for _ in range(8 * 24):  # the loop turns (an hour apart here: its clock is read at each)
            now[0] += 3600 * 1000
            b.loop.run_once(0)
            t = b.timer()
            if t is not None and t <= now[0]:
                b.handle_timer(now[0])
            b.loop.serve_timers()
        assert factory.cache.get(peer) is None, "an entry 8 days old with 7 days to live is still used"
    finally:
        b.shutdown()


def test_the_page_s_uptime_is_not_moved_by_the_wall_clock():
    # A host without a clock of its own (a Raspberry Pi) starts the box before NTP sets the
    # time, which then jumps by the hours or days the host was off: the device page's uptime
    # counted from the wall clock jumped with it (and went negative when it was set back).
    import time as real_time
    from zerotap.runtime import web

    class Wall:  # the wall clock, set 30 days forward since the box started
        @staticmethod
        def time():
            return real_time.time() + 30 * 86400

        def __getattr__(self, name):
            return getattr(real_time, name)

    class Box:
        wifi_board = False
        loop = udp.Loop()

    had = hasattr(web, "time")  # (the page reads no clock of the time module now)
    saved = getattr(web, "time", None)
    web.time = Wall()
    try:
        rows = dict(web.BoxHost(Box()).device())
    finally:
        if had:
            web.time = saved
        else:
            del web.time
        Box.loop.close_all()
    assert rows["uptime"].startswith("0d "), rows["uptime"]


def test_the_page_s_uptime_follows_the_box_s_loop_clock():
    # The device page counted its uptime from time.monotonic where there is one and from
    # time.time elsewhere: on the MicroPython unix port on a host that is the wall clock (it
    # jumps when NTP sets it, goes back with it), and either way a second clock beside the
    # box's own, which never wraps and every runtime has. Three days and some of the box's
    # loop, an hour a turn: the page says so.
    from zerotap.runtime import web
    tmp = scratch("months_uptime")
    cfg = _config(tmp)
    now = [0]  # the loop's clock starts with the loop, at the box's start
    b = runtime_box.Box(cfg, loop=udp.Loop(clock=lambda: now[0]), log=lambda text: None,
                        name="U")
    try:
        host = web.BoxHost(b)
        assert dict(host.device())["uptime"] == "0d 00:00:00"
        now[0] += 999
        assert dict(host.device())["uptime"] == "0d 00:00:00"
        for _ in range(3 * 24):
            now[0] += 3600 * 1000
            b.loop.run_once(0)
            t = b.timer()
            if t is not None and t <= now[0]:
                b.handle_timer(now[0])
            b.loop.serve_timers()
        now[0] += ((4 * 60 + 5) * 60 + 6) * 1000
        assert dict(host.device())["uptime"] == "3d 04:05:06"
    finally:
        b.shutdown()
