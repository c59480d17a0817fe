"""Rate limits per client address: an enumerating client is braked at once, others go on.

Clients send from different loopback addresses (127.0.0.2, 127.0.0.3 ...), which the helper tells
apart as it would tell two hosts apart. With Redis the counters are shared: the limits hold across
front ends.
"""
import random
import time

import pytest

from icehelper_proc import Helper, Redis

LIMITS = {"put": "5/60", "post": "8/60", "get": "40/60", "miss": "6/60"}


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
    _, body, _ = a.request("PUT", "/", {"ufrag": "victim"}, source="127.0.0.3")
    victim = body["id"]
    rnd = random.Random(5)
    answers = []
    t0 = time.monotonic()
    for i in range(30):
        guess = "%d" % rnd.randrange(10 ** 9, 10 ** 10)
        h = a if i % 2 else b  # alternating front ends: the brake is global with Redis
        answers.append(h.request("GET", "/" + guess, source="127.0.0.2")[0])
    assert answers[:6] == [404] * 6 and set(answers[6:]) == {429}, answers
    assert time.monotonic() - t0 < 10
    # even the right id is refused to the enumerating address now
    status, got, headers = a.request("GET", "/" + victim, source="127.0.0.2")
    assert status == 429 and "miss" in got["error"] and headers["Retry-After"] == "60"
    # another address reads, stores and merges as usual
    assert b.request("GET", "/" + victim, source="127.0.0.4")[1]["ufrag"] == "victim"
    assert a.request("PUT", "/", {}, source="127.0.0.4")[0] == 200
    _, text, _ = a.request("GET", "/metrics")
    assert 'icehelper_limited_total{kind="miss"}' in text


def test_put_post_and_get_have_their_own_limits(helpers):
    a, b = helpers
    puts = [(a if i % 2 else b).request("PUT", "/", {}, source="127.0.0.5") for i in range(7)]
    assert [p[0] for p in puts] == [200] * 5 + [429] * 2
    assert "put limit" in puts[-1][1]["error"]
    assert a.request("PUT", "/", {}, source="127.0.0.6")[0] == 200
    offer_id, token = puts[0][1]["id"], puts[0][1]["token"]
    posts = [a.request("POST", "/" + offer_id, {}, {"X-icestorage-token": token},
                       source="127.0.0.5")[0] for _ in range(9)]
    assert posts == [200] * 8 + [429]
    gets = [b.request("GET", "/" + offer_id, source="127.0.0.7")[0] for _ in range(12)]
    assert gets == [200] * 10 + [404] * 2  # the read budget (10) ends before the GET limit


def test_wrong_tokens_count_as_misses(helpers):
    a, b = helpers
    _, body, _ = a.request("PUT", "/", {}, source="127.0.0.8")
    answers = [b.request("POST", "/" + body["id"], {}, {"X-icestorage-token": "x" * 32},
                         source="127.0.0.9")[0] for _ in range(6)]
    assert answers == [404] * 6
    assert a.request("GET", "/" + body["id"], source="127.0.0.9")[0] == 429


def test_behind_a_trusted_proxy_the_forwarded_address_counts(tmp_path):
    h = Helper(tmp_path / "h", limits={"miss": "3/60"},
               server={"trusted_proxies": "127.0.0.1/32"}).start()
    try:
        def guess(source, forwarded):
            return h.request("GET", "/1234567890", source=source,
                             headers={"X-Forwarded-For": forwarded})[0]
        # through the proxy (127.0.0.1): each forwarded address has its own budget
        assert [guess("127.0.0.1", "198.51.100.7") for _ in range(4)] == [404, 404, 404, 429]
        assert guess("127.0.0.1", "198.51.100.8") == 404
        # an untrusted sender cannot pick its address with the header
        assert [guess("127.0.0.2", "198.51.100.%d" % i) for i in range(4)] == [404] * 3 + [429]
    finally:
        h.stop()
