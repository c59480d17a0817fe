"""Rate limits per client address: an enumerating client is braked at once, others go on.

Clients send from different loopback addresses (127.0.0.2, 127.0.0.3 ...), which the helper tells
apart as it would tell two hosts apart. With Redis the counters are shared: the limits hold across
front ends.

Both stores count in FIXED windows of the wall clock (``int(time // seconds)``: time.time() in the
memory store, Redis's TIME on this same machine): at a window boundary every counter starts again
at 0. A test that sends more requests than a limit allows would see the budget twice if a
boundary passed while it ran (under heavy load the 30 guesses of the enumeration take seconds, and
where in the minute a test starts is chance). :func:`in_one_window` therefore runs each test's
requests again, from fresh addresses, when a boundary passed during a failed run: that second run
starts right after a boundary and has (nearly) a whole window before the next one. A run that
failed within one window fails the test, so nothing the tests prove is weakened.
"""
import random
import time

import pytest

from icehelper_proc import Helper, Redis

WINDOW = 60  # seconds: the window of every limit below
LIMITS = {"put": "5/60", "post": "8/60", "get": "40/60", "miss": "6/60"}


def in_one_window(run, window=WINDOW):
    """RUN(attempt) sends its requests and asserts what it saw; it is run a second time (ATTEMPT 1,
    from addresses no earlier attempt used) only when it failed AND a window boundary passed
    between its start and its end, i.e. when the counters were reset half-way through.

    The server's clock reading for each request lies between the test's two readings of the
    same clock, so equal windows at start and end mean that every request was counted in one
    window."""
    for attempt in range(2):
        started = int(time.time() // window)
        try:
            return run(attempt)
        except AssertionError:
            if attempt or int(time.time() // window) == started:
                raise
            print("a window boundary passed during the run: once more from fresh addresses")
            # a boundary passed: the new window began less than one run ago, so the rerun fits


def _addr(attempt, host):
    """127.0.0.HOST in the first attempt, 127.0.1.HOST in the second (all of 127/8 is loopback)."""
    return "127.0.%d.%d" % (attempt, host)


@pytest.fixture(params=["memory", "redis"])
def helpers(request, tmp_path):
    if request.param == "memory":
        h = Helper(tmp_path / "h", limits=LIMITS).start()
        yield h, h
        h.stop()
        return
    r = Redis(tmp_path / "redis").start()
    a = Helper(tmp_path / "a", backend="redis", redis_port=r.port, limits=LIMITS).start()
    b = Helper(tmp_path / "b", backend="redis", redis_port=r.port, limits=LIMITS).start()
    yield a, b
    a.stop()
    b.stop()
    r.stop()


def test_an_enumerating_client_gets_429_quickly_and_others_are_not_affected(helpers):
    a, b = helpers

    def run(attempt):
        enumerator, other = _addr(attempt, 2), _addr(attempt, 4)
        _, body, _ = a.request("PUT", "/", {"ufrag": "victim"}, source=_addr(attempt, 3))
        victim = body["id"]
        rnd = random.Random(5 + attempt)
        answers = []
        t0 = time.monotonic()
        for i in range(30):
            guess = "%d" % rnd.randrange(10 ** 9, 10 ** 10)
            h = a if i % 2 else b  # alternating front ends: the brake is global with Redis
            answers.append(h.request("GET", "/" + guess, source=enumerator)[0])
        assert answers[:6] == [404] * 6 and set(answers[6:]) == {429}, answers
        assert time.monotonic() - t0 < 10
        # even the right id is refused to the enumerating address now
        status, got, headers = a.request("GET", "/" + victim, source=enumerator)
        assert status == 429 and "miss" in got["error"] and headers["Retry-After"] == "60"
        # another address reads, stores and merges as usual
        assert b.request("GET", "/" + victim, source=other)[1]["ufrag"] == "victim"
        assert a.request("PUT", "/", {}, source=other)[0] == 200

    in_one_window(run)
    _, text, _ = a.request("GET", "/metrics")
    assert 'icehelper_limited_total{kind="miss"}' in text


def test_put_post_and_get_have_their_own_limits(helpers):
    a, b = helpers

    def run(attempt):
        src = _addr(attempt, 5)
        puts = [(a if i % 2 else b).request("PUT", "/", {}, source=src) for i in range(7)]
        assert [p[0] for p in puts] == [200] * 5 + [429] * 2
        assert "put limit" in puts[-1][1]["error"]
        assert a.request("PUT", "/", {}, source=_addr(attempt, 6))[0] == 200
        offer_id, token = puts[0][1]["id"], puts[0][1]["token"]
        posts = [a.request("POST", "/" + offer_id, {}, {"X-icestorage-token": token},
                           source=src)[0] for _ in range(9)]
        assert posts == [200] * 8 + [429]
        gets = [b.request("GET", "/" + offer_id, source=_addr(attempt, 7))[0] for _ in range(12)]
        assert gets == [200] * 10 + [404] * 2  # the read budget (10) ends before the GET limit

    in_one_window(run)


def test_wrong_tokens_count_as_misses(helpers):
    a, b = helpers

    def run(attempt):
        _, body, _ = a.request("PUT", "/", {}, source=_addr(attempt, 8))
        answers = [b.request("POST", "/" + body["id"], {}, {"X-icestorage-token": "x" * 32},
                             source=_addr(attempt, 9))[0] for _ in range(6)]
        assert answers == [404] * 6
        assert a.request("GET", "/" + body["id"], source=_addr(attempt, 9))[0] == 429

    in_one_window(run)


def test_behind_a_trusted_proxy_the_forwarded_address_counts(tmp_path):
    h = Helper(tmp_path / "h", limits={"miss": "3/60"},
               server={"trusted_proxies": "127.0.0.1/32"}).start()
    try:
        def guess(source, forwarded):
            return h.request("GET", "/1234567890", source=source,
                             headers={"X-Forwarded-For": forwarded})[0]

        def run(attempt):
            first, second = ("198.51.100.%d" % (n + 10 * attempt) for n in (7, 8))
            # through the proxy (127.0.0.1): each forwarded address has its own budget
            assert [guess("127.0.0.1", first) for _ in range(4)] == [404, 404, 404, 429]
            assert guess("127.0.0.1", second) == 404
            # an untrusted sender cannot pick its address with the header
            assert [guess(_addr(attempt, 2), "198.51.100.%d" % i)
                    for i in range(4)] == [404] * 3 + [429]

        in_one_window(run)
    finally:
        h.stop()


def test_behind_a_dual_stack_proxy_ipv4_clients_each_have_their_own_budget(tmp_path):
    """A proxy listening on a dual-stack socket (nginx ``listen [::]:443 ipv6only=off``, HAProxy
    on ``:::443``) forwards its IPv4 clients as IPv4-mapped IPv6 addresses (``::ffff:a.b.c.d``).
    Taken as IPv6 and cut to their /64, they were all ``::``: every IPv4 box shared one budget,
    and one enumerating client braked all of them."""
    h = Helper(tmp_path / "h", limits={"miss": "3/60"},
               server={"trusted_proxies": "127.0.0.1/32"}).start()
    try:
        def guess(forwarded):
            return h.request("GET", "/1234567890", source="127.0.0.1",
                             headers={"X-Forwarded-For": forwarded})[0]

        def run(attempt):
            first, second = ("::ffff:198.51.100.%d" % (n + 10 * attempt) for n in (7, 8))
            assert [guess(first) for _ in range(4)] == [404, 404, 404, 429]
            assert guess(second) == 404
            # the same client seen through an IPv4 socket is the same client
            assert guess(first.replace("::ffff:", "")) == 429

        in_one_window(run)
    finally:
        h.stop()
