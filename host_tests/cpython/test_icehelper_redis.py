"""Two ICE helper front ends on one real redis-server: shared offers, a front end that dies, Redis
that goes away and comes back."""
import threading
import time

import pytest

from hostenv import wait_until
from icehelper_proc import Helper, Redis, candidate


@pytest.fixture
def pair(tmp_path):
    r = Redis(tmp_path / "redis").start()
    a = Helper(tmp_path / "a", backend="redis", redis_port=r.port).start()
    b = Helper(tmp_path / "b", backend="redis", redis_port=r.port).start()
    yield r, a, b
    a.stop()
    b.stop()
    r.stop()


def test_an_offer_stored_through_one_front_end_is_read_through_the_other(pair):
    _, a, b = pair
    status, body, _ = a.request("PUT", "/", {"ufrag": "u"})
    offer_id, token = body["id"], body["token"]
    assert b.request("POST", "/" + offer_id, {"candidates": [candidate(0)]},
                     {"X-icestorage-token": token})[0] == 200
    status, got, _ = a.request("GET", "/" + offer_id)
    assert status == 200 and got["ufrag"] == "u" and got["candidates"] == [candidate(0)]
    assert b.request("DELETE", "/" + offer_id, headers={"X-icestorage-token": token})[0] == 200
    assert a.request("GET", "/" + offer_id)[0] == 404


def test_wait_on_one_front_end_wakes_on_a_merge_through_the_other(pair):
    _, a, b = pair
    _, body, _ = a.request("PUT", "/", {"ufrag": "u"})

    def later():
        time.sleep(0.5)
        b.request("POST", "/" + body["id"], {"candidates": [candidate(1)]},
                  {"X-icestorage-token": body["token"]})

    t = threading.Thread(target=later)
    t0 = time.monotonic()
    t.start()
    status, got, _ = a.request("GET", "/%s?wait=5" % body["id"])
    took = time.monotonic() - t0
    t.join()
    assert status == 200 and got["candidates"] == [candidate(1)] and took < 2.5, took


def test_a_front_end_killed_mid_test_loses_nothing(pair):
    _, a, b = pair
    stored = []
    for i in range(20):
        _, body, _ = a.request("PUT", "/", {"ufrag": "u%d" % i, "candidates": [candidate(i % 16)]})
        stored.append((body["id"], body["token"], i))
    a.kill()
    for offer_id, token, i in stored:
        status, got, _ = b.request("GET", "/" + offer_id)
        assert status == 200 and got["ufrag"] == "u%d" % i
        assert b.request("POST", "/" + offer_id, {"pwd": "p"}, {"X-icestorage-token": token}
                         )[0] == 200


def test_redis_down_is_503_and_the_service_comes_back_by_itself(pair, tmp_path):
    r, a, b = pair
    _, body, _ = a.request("PUT", "/", {})
    r.stop()
    for h in (a, b):
        t0 = time.monotonic()
        for method, path, data in (("PUT", "/", {}), ("GET", "/" + body["id"], None),
                                   ("POST", "/" + body["id"], {})):
            status, got, headers = h.request(method, path, data,
                                             {"X-icestorage-token": body["token"]})
            assert status == 503, (method, got)
            assert got["error"].startswith("storage unavailable: Redis at 127.0.0.1:%d"
                                           % r.port), got
            assert headers["Retry-After"] == "1"
        assert time.monotonic() - t0 < 10
        status, got, _ = h.request("GET", "/healthz")
        assert status == 503 and "storage unavailable" in got["error"]
        _, text, _ = h.request("GET", "/metrics")
        assert "icehelper_backend_up 0" in text
    r2 = Redis(tmp_path / "redis2", port=r.port).start()
    try:
        for h in (a, b):
            assert wait_until(lambda: h.request("GET", "/healthz")[0] == 200, 10)
            status, got, _ = h.request("PUT", "/", {"ufrag": "back"})
            assert status == 200
            assert (a if h is b else b).request("GET", "/" + got["id"])[1]["ufrag"] == "back"
        assert "store: answering again" in a.logs()
    finally:
        r2.stop()


def test_a_redis_that_hangs_is_503_within_seconds_and_then_serves_again(pair):
    import os
    import signal
    r, a, _ = pair
    _, body, _ = a.request("PUT", "/", {"ufrag": "before"})
    os.kill(r.proc.pid, signal.SIGSTOP)  # accepts nothing, answers nothing
    try:
        t0 = time.monotonic()
        status, got, _ = a.request("GET", "/" + body["id"], timeout=15)
        took = time.monotonic() - t0
        assert status == 503 and got["error"].startswith("storage unavailable"), got
        assert took < 6, took
    finally:
        os.kill(r.proc.pid, signal.SIGCONT)
    assert wait_until(lambda: a.request("GET", "/" + body["id"])[0] == 200, 10)
    assert a.request("GET", "/" + body["id"])[1]["ufrag"] == "before"
