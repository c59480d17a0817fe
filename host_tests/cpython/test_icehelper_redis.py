"""Two ICE helper front ends on one real redis-server: shared offers, a front end that dies, Redis
that goes away and comes back; the GET reply that the store's script renders and keeps."""
import asyncio
import http.client
import sys
import threading
import time

import pytest
import redis

from hostenv import ROOT, wait_until
from icehelper_proc import Helper, Redis, candidate

sys.path.insert(0, str(ROOT / "tools"))
from icehelper import offers  # noqa: E402
from icehelper.config import LIFETIME, Config  # noqa: E402
from icehelper.metrics import Metrics  # noqa: E402
from icehelper.redisstore import RedisStore  # noqa: E402


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


def test_requests_while_redis_hangs_all_get_503_within_seconds_not_one_after_another(pair):
    import os
    import signal
    r, a, _ = pair
    _, body, _ = a.request("PUT", "/", {"ufrag": "before"})
    os.kill(r.proc.pid, signal.SIGSTOP)  # the kernel still accepts connections; Redis answers none
    try:
        # the first request finds the connection stalled and drops it
        assert a.request("GET", "/" + body["id"], timeout=15)[0] == 503
        answers = []

        def one(i):
            t0 = time.monotonic()
            status, got, _ = a.request("GET", "/" + body["id"], timeout=30)
            answers.append((status, time.monotonic() - t0, got))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        assert len(answers) == 8
        for status, took, got in answers:
            # one connection attempt's time (2 s for the handshake's answer) and a margin; before,
            # the attempts ran one after another: the 8th request waited 8 of them
            assert status == 503 and got["error"].startswith("storage unavailable"), got
            assert took < 6, sorted(t for _, t, _ in answers)
    finally:
        os.kill(r.proc.pid, signal.SIGCONT)
    assert wait_until(lambda: a.request("GET", "/" + body["id"])[0] == 200, 10)


def test_a_redis_that_refuses_writes_is_503_naming_why_and_then_serves_again(pair):
    """A Redis out of memory (maxmemory reached, policy noeviction) refuses every script that
    writes; a replica after a failover (READONLY) likewise. Before: a bare 500 (text, not JSON),
    backend_up still 1, nothing counted."""
    r, a, _ = pair
    _, body, _ = a.request("PUT", "/", {"ufrag": "before"})
    admin = redis.Redis(port=r.port)
    admin.config_set("maxmemory", "1")  # over it at once; the default policy evicts nothing
    try:
        for method, path, data in (("PUT", "/", {}), ("GET", "/" + body["id"], None),
                                   ("POST", "/" + body["id"], {})):
            status, got, headers = a.request(method, path, data,
                                             {"X-icestorage-token": body["token"]})
            assert status == 503, (method, status, got)
            assert got["error"].startswith("storage unavailable: Redis at 127.0.0.1:%d refused "
                                           "(OOM " % r.port), got
            assert headers["Retry-After"] == "1"
        _, text, _ = a.request("GET", "/metrics")
        assert "icehelper_backend_up 0" in text and "icehelper_backend_errors_total 3" in text
    finally:
        admin.config_set("maxmemory", "0")
        admin.close()
    assert a.request("GET", "/" + body["id"])[1]["ufrag"] == "before"
    assert a.request("PUT", "/", {})[0] == 200
    assert "icehelper_backend_up 1" in a.request("GET", "/metrics")[1]


def _raw_get(h, offer_id):
    conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
    try:
        conn.request("GET", "/" + offer_id)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_the_get_reply_is_offers_render_text_kept_per_write_and_rendered_again_after_one(pair):
    """The script renders the reply (keys in byte order, expires as Python prints it) on the
    first GET after a write and keeps it in the hash (b, rendered for the write at v); a merge,
    an entry written before b existed, and a write by a front end that knows nothing of b all
    get the reply of what is stored now."""
    r, a, b = pair
    db = redis.Redis(port=r.port)
    # keys whose byte order differs from many locales' collation, one that "expires" prefixes,
    # a non-ASCII key (stored as its \u escape) and value
    offer = {"ufrag": "u", "B": [3], "a_b": 1, "ab": 2, "Z\u00e9": "\u00e9t\u00e9", "e": 0,
             "expiresX": {"x": None}, "candidates": [candidate(0)]}
    _, body, _ = a.request("PUT", "/", offer)
    offer_id, token = body["id"], body["token"]
    key = "icehelper:o:" + offer_id
    db.hset(key, "r", 100)  # reads left: more than the default 10 are made here

    def expected():
        stored = {k.decode(): v for k, v in db.hgetall(key).items()}
        fields = {k[1:]: v.decode() for k, v in stored.items() if k[:1] == "k"}
        return offers.render(fields, (int(stored["w"]) + LIFETIME * 1000) / 1000)

    first = _raw_get(b, offer_id)
    assert first == (200, expected())
    got = offers.json.loads(first[1])
    assert got.pop("expires") > time.time() + LIFETIME - 5 and got == offer
    written = db.hget(key, "w")
    assert db.hget(key, "v") == written and db.hget(key, "b").decode() == first[1]  # kept
    assert _raw_get(a, offer_id) == first

    # expires as repr(round(x, 3)) prints it, every kind of trailing zeros: each write of w
    # alone (as a front end without b writes) makes the script render the reply again
    for w in (1765000000000, 1765000000100, 1765000000120, 1765000000123, 1765000000003,
              1765000000020, 1765000000500):
        db.hset(key, "w", w)
        assert _raw_get(a, offer_id) == (200, expected()), w
    db.hset(key, "w", written)
    assert _raw_get(a, offer_id) == first and db.hget(key, "v") == written

    # a merge within the same millisecond as the kept reply's write still shows
    assert a.request("POST", "/" + offer_id, {"ab": "merged", "candidates": []},
                     {"X-icestorage-token": token})[0] == 200
    db.hset(key, "w", written)
    status, text = _raw_get(b, offer_id)
    assert (status, text) == (200, expected()) and '"ab":"merged"' in text

    # an entry as the store wrote it before b existed: read as before, then kept
    db.hdel(key, "b", "v")
    assert _raw_get(a, offer_id) == (200, expected())
    assert db.hget(key, "v") == db.hget(key, "w")


async def _unsendable_then_get(port):
    config = Config("[server]\nhttp = 127.0.0.1:1\n[store]\nbackend = redis\n"
                    "redis_url = redis://127.0.0.1:%d/0\n" % port)
    store = RedisStore(config, Metrics())
    try:
        fields = {'"a"': "1"}
        offer_id = await store.put("127.0.0.1", fields, None, "h")
        with pytest.raises(UnicodeEncodeError):  # a lone surrogate has no UTF-8 form
            await store.put("127.0.0.1", {'"a"': '"\ud800"'}, None, "h")
        # the GET gets its own reply, not the one meant for the failed call (nor waits for it)
        got = await asyncio.wait_for(store.get("127.0.0.1", offer_id), 3)
        assert got is not None and got.startswith(b'{"a":1,"expires":'), got
    finally:
        await store.close()


def test_a_command_that_cannot_be_sent_leaves_the_replies_matched(tmp_path):
    """A call whose arguments cannot be written to Redis fails alone: the pipelined connection
    awaits no reply for it, so the next calls still get their own replies (before, they got the
    reply of the call before them: a GET another request's answer, until the connection stalled)."""
    r = Redis(tmp_path / "redis").start()
    try:
        asyncio.run(_unsendable_then_get(r.port))
    finally:
        r.stop()


def test_a_script_flush_while_running_costs_nothing(pair):
    """SCRIPT FLUSH (or a Redis that lost its script cache) under running front ends: every call,
    the GET's inlined one too, gets NOSCRIPT, runs the script by EVAL and answers as before."""
    r, a, b = pair
    db = redis.Redis(port=r.port)
    _, body, _ = a.request("PUT", "/", {"ufrag": "u"})
    offer_id, token = body["id"], body["token"]
    first = _raw_get(b, offer_id)  # both front ends connected, the reply kept
    assert first[0] == 200
    db.script_flush()
    assert _raw_get(a, offer_id) == first and _raw_get(b, offer_id) == first
    db.script_flush()
    assert b.request("POST", "/" + offer_id, {"pwd": "p"}, {"X-icestorage-token": token})[0] == 200
    db.script_flush()
    status, got, _ = a.request("GET", "/" + offer_id)
    assert status == 200 and (got["ufrag"], got["pwd"]) == ("u", "p")
    db.script_flush()
    status, put, _ = b.request("PUT", "/", {})
    assert status == 200
    db.script_flush()
    assert a.request("DELETE", "/" + offer_id, headers={"X-icestorage-token": token})[0] == 200
    assert b.request("GET", "/" + offer_id)[0] == 404
    assert a.request("GET", "/" + put["id"])[0] == 200
