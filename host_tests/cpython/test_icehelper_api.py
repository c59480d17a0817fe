"""The ICE helper's API as ZSipOs boxes use it, the additions, and every error, on both stores.

Each test runs against the memory store and against the Redis store (a real redis-server started
here); the helper runs as ``python tools/icehelper --config FILE`` in its own process.
"""
import hashlib
import json
import re
import threading
import time

import pytest

from hostenv import FIRMWARE
from icehelper_proc import Helper, Redis, candidate

import sys

sys.path.insert(0, str(FIRMWARE))
from zerotap.dtmf import frame  # noqa: E402

BACKENDS = ("memory", "redis")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    r = Redis(tmp_path_factory.mktemp("redis")).start()
    yield r
    r.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, redis_server):
    return request.param


def start(tmp_path, backend, redis_server, **kw):
    prefix = "t%d:" % time.monotonic_ns()  # each helper its own keys in the shared redis-server
    store = dict(kw.pop("store", {}), redis_prefix=prefix)
    return Helper(tmp_path / "helper", backend=backend, redis_port=redis_server.port, store=store,
                  **kw).start()


@pytest.fixture(scope="module")
def helper(backend, redis_server, tmp_path_factory):
    h = start(tmp_path_factory.mktemp("helper"), backend, redis_server,
              turn={"secret": "not-a-real-secret", "ttl": "3600",
                    "uris": "turn:127.0.0.1:3478?transport=udp"})
    yield h
    assert h.stop() == 0, h.logs()


def put(h, offer=None):
    status, body, _ = h.request("PUT", "/", {} if offer is None else offer)
    assert status == 200, body
    return body["id"], body["token"]


def test_zsipos_flow_put_empty_post_merge_get(helper):
    before = time.time()
    status, body, headers = helper.request("PUT", "/", {})
    assert status == 200
    offer_id, token = body["id"], body["token"]
    assert re.fullmatch(r"[1-9][0-9]{9}", offer_id) and frame.valid_id(offer_id)
    assert re.fullmatch(r"[a-z]{32}", token)
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert headers["Pragma"] == "no-cache" and headers["Expires"] == "0"
    merge = {"ufrag": "Ab3dEf9h", "pwd": "x" * 24, "candidates": [candidate(0), candidate(1)]}
    status, body, _ = helper.request("POST", "/" + offer_id, merge,
                                     {"X-icestorage-token": token})
    assert (status, body) == (200, {"id": offer_id, "token": token})
    status, got, headers = helper.request("GET", "/" + offer_id)
    assert status == 200 and headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    expires = got.pop("expires")
    assert got == merge
    assert before + 299 <= expires <= time.time() + 301
    # a base URL with a trailing slash gives //<id>; ZSipOs collapses it, and so do we
    status, again, _ = helper.request("GET", "//" + offer_id)
    assert status == 200 and again["ufrag"] == "Ab3dEf9h"


def test_put_with_the_offer_at_once_and_a_later_merge_replaces_whole_keys(helper):
    offer_id, token = put(helper, {"ufrag": "u1", "pwd": "p1", "candidates": [candidate(0)],
                                   "extra": {"a": 1}})
    status, _, _ = helper.request("POST", "//" + offer_id, {"candidates": [candidate(2)],
                                                            "extra": [1, 2]},
                                  {"X-icestorage-token": token})
    assert status == 200
    _, got, _ = helper.request("GET", "/" + offer_id)
    assert got["candidates"] == [candidate(2)] and got["extra"] == [1, 2] and got["ufrag"] == "u1"


def test_a_get_after_a_merge_shows_the_merge_though_the_offer_was_read_before(helper):
    offer_id, token = put(helper, {"ufrag": "u1", "candidates": [candidate(0)]})
    assert helper.request("GET", "/" + offer_id)[1]["ufrag"] == "u1"
    for merge in ({"ufrag": "u2", "pwd": "p"}, {"candidates": [candidate(1)], "x": 1}):
        assert helper.request("POST", "/" + offer_id, merge, {"X-icestorage-token": token}
                              )[0] == 200
        _, got, _ = helper.request("GET", "/" + offer_id)
        assert all(got[k] == v for k, v in merge.items()), (merge, got)
    got.pop("expires")
    assert got == {"ufrag": "u2", "pwd": "p", "candidates": [candidate(1)], "x": 1}


def test_server_keys_from_the_client_are_dropped(helper):
    offer_id, token = put(helper, {"_update_token": "mine", "expires": 1, "ufrag": "u"})
    _, got, _ = helper.request("GET", "/" + offer_id)
    assert "_update_token" not in got and got["expires"] > time.time() + 200


def test_ids_follow_the_dtmf_frame_rules_and_are_unique(helper):
    ids = {put(helper)[0] for _ in range(60)}
    assert len(ids) == 60
    for offer_id in ids:
        assert frame.valid_id(offer_id), offer_id  # first digit 1-9, no repeats incl. check digits
        frame.encode(offer_id)  # the DTMF frame accepts it


def test_wrong_or_missing_token_is_404_like_an_unknown_id(helper):
    offer_id, token = put(helper, {"ufrag": "u"})
    unknown = next(i for i in (frame.make_id(lambda n: bytes([7 * k % 251 for k in range(n)])),)
                   if i != offer_id)
    wrong = helper.request("POST", "/" + offer_id, {"ufrag": "evil"},
                           {"X-icestorage-token": "a" * 32})
    missing = helper.request("POST", "/" + offer_id, {"ufrag": "evil"})
    absent = helper.request("POST", "/" + unknown, {"ufrag": "evil"},
                            {"X-icestorage-token": token})
    assert wrong[0] == missing[0] == absent[0] == 404
    assert wrong[1] == missing[1] == absent[1] == {"error": "not found"}
    assert wrong[2]["Content-Length"] == absent[2]["Content-Length"]
    assert helper.request("GET", "/" + offer_id)[1]["ufrag"] == "u"  # nothing changed


def test_unknown_ids_and_paths_are_404(helper):
    for path in ("/", "//", "/1234567890", "/abc", "/12ab", "/" + "1" * 40, "/%31%32"):
        status, body, _ = helper.request("GET", path)
        assert (status, body) == (404, {"error": "not found"}), path


def test_bodies_over_4_kib_are_413(helper):
    offer_id, token = put(helper)
    big = {"pad": "x" * 4100}
    assert helper.request("PUT", "/", big)[0] == 413
    status, body, _ = helper.request("POST", "/" + offer_id, big, {"X-icestorage-token": token})
    assert (status, body) == (413, {"error": "body: at most 4096 bytes"})
    # chunked, without a Content-Length: still 413
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", helper.port, timeout=10)
    conn.request("PUT", "/", body=iter([b'{"pad": "', b"x" * 5000, b'"}']),
                 encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    assert conn.getresponse().status == 413
    conn.close()


def test_compressed_bodies_count_as_they_decompress(helper):
    # a gzip body is read decompressed (aiohttp does it): the 4 KiB hold for what it unpacks to,
    # also when the compressed bytes are few and came whole with the headers
    import gzip
    offer = {"ufrag": "u", "pwd": "p", "candidates": [candidate()]}
    status, body, _ = helper.request("PUT", "/", raw=gzip.compress(json.dumps(offer).encode()),
                                     headers={"Content-Encoding": "gzip"})
    assert status == 200, body
    status, got, _ = helper.request("GET", "/" + body["id"])
    assert status == 200 and got["candidates"] == offer["candidates"], got
    small = gzip.compress(json.dumps({"pad": "x" * 5000}).encode())
    assert len(small) < 200
    status, body, _ = helper.request("PUT", "/", raw=small, headers={"Content-Encoding": "gzip"})
    assert (status, body) == (413, {"error": "body: at most 4096 bytes"})


def test_a_body_that_is_not_what_its_content_encoding_says_is_400(helper):
    # before: 500 in text ("Server got itself in trouble") and a traceback in the log for
    # each such request
    offer_id, token = put(helper)
    for method, path in (("PUT", "/"), ("POST", "/" + offer_id)):
        status, body, _ = helper.request(method, path, raw=b'{"ufrag": "u"}',
                                         headers={"Content-Encoding": "gzip",
                                                  "X-icestorage-token": token})
        assert status == 400, body
        assert body["error"].startswith("body: cannot decode its content-encoding"), body
    time.sleep(0.2)
    assert "Traceback" not in helper.logs()


def test_merges_cannot_grow_an_offer_past_its_limit(helper):
    offer_id, token = put(helper)
    for i in range(3):
        status, _, _ = helper.request("POST", "/" + offer_id, {"pad%d" % i: "x" * 3000},
                                      {"X-icestorage-token": token})
        assert status == (200 if i < 2 else 413), i
    # replacing a key counts its new size only
    status, _, _ = helper.request("POST", "/" + offer_id, {"pad1": "y" * 3000},
                                  {"X-icestorage-token": token})
    assert status == 200


def test_a_merge_counts_a_non_ascii_value_as_the_put_did(helper):
    """max_offer_bytes counts a value the same way when a PUT stores it and when a merge replaces
    it, on both stores (the Redis store counted the PUT in characters and the merge in bytes:
    replacing 1000 "\u00e9" freed 1000 more than was counted, and the offer grew past its limit)."""
    status, body, _ = helper.request("PUT", "/", raw=('{"x": "%s"}' % ("\u00e9" * 1000)).encode())
    assert status == 200, body
    offer_id, token = body["id"], body["token"]
    assert helper.request("POST", "/" + offer_id, {"x": ""}, {"X-icestorage-token": token})[0] \
        == 200
    for i in range(3):
        status, _, _ = helper.request("POST", "/" + offer_id, {"pad%d" % i: "x" * 3000},
                                      {"X-icestorage-token": token})
        assert status == (200 if i < 2 else 413), i


@pytest.mark.parametrize("raw, message", [
    (b"not json", "body: not JSON"),
    (b"[1, 2]", "body: an offer is a JSON object, got list"),
    (b"42", "body: an offer is a JSON object, got int"),
    (b'{"ufrag": 5}', "ufrag: a string of at most 256 characters"),
    (b'{"pwd": "' + b"p" * 257 + b'"}', "pwd: a string of at most 256 characters"),
    (b'{"candidates": {}}', "candidates: a list, got dict"),
    # nested deeper than json's recursion limit (was a RecursionError answered 500)
    (b"[" * 2000 + b"]" * 2000, "body: not JSON (nested too deeply)"),
    (b'{"x": ' + b"[" * 1900 + b"]" * 1900 + b"}", "body: not JSON (nested too deeply)"),
    # a lone surrogate as raw text (encoded in UTF-8, or in UTF-16): json.loads takes it, but it
    # has no UTF-8 form (was stored by the memory store and answered 500 on GET, 500 on Redis)
    (b'{"a": "\xed\xa0\x80"}', "body: not UTF-8 text (a lone surrogate, U+D800, at character 7)"),
    ('{"ab": "\udc00"}'.encode("utf-16-le", "surrogatepass"),
     "body: not UTF-8 text (a lone surrogate, U+DC00, at character 8)"),
])
def test_bodies_that_are_not_offers_are_400(helper, raw, message):
    status, body, _ = helper.request("PUT", "/", raw=raw)
    assert status == 400 and body["error"].startswith(message), body


@pytest.mark.parametrize("cands, message", [
    ([candidate(i) for i in range(17)], "candidates: at most 16, got 17"),
    (["x"], "candidates[0]: an object, got str"),
    ([candidate(0), {k: v for k, v in candidate(1).items() if k != "prio"}],
     "candidates[1].prio: missing"),
    ([candidate(0, foundation=7)], "candidates[0].foundation: str expected, got int"),
    ([candidate(0, prio="1")], "candidates[0].prio: int expected, got str"),
    ([candidate(0, prio=True)], "candidates[0].prio: int expected, got bool"),
    ([candidate(0, compid=1.0)], "candidates[0].compid: int expected, got float"),
    ([candidate(0, default=1)], "candidates[0].default: bool expected, got int"),
    ([candidate(0, type=4)], "candidates[0].type: 0 (host) to 3 (relayed)"),
    ([candidate(0, prio=1 << 32)], "candidates[0].prio: 0 to 2**32-1"),
    ([candidate(0, addr="192.168.1.5")], "candidates[0].addr: '192.168.1.5' is not"),
    ([candidate(0, addr="host.example:5")], "candidates[0].addr: 'host.example:5' is not"),
    ([candidate(0, addr="::1:5")], "candidates[0].addr: '::1:5' is not"),
    ([candidate(0, addr="1.2.3.4:70000")], "candidates[0].addr: '1.2.3.4:70000' is not"),
])
def test_bad_candidates_are_400_naming_the_field(helper, cands, message):
    status, body, _ = helper.request("PUT", "/", {"candidates": cands})
    assert status == 400 and body["error"].startswith(message), body
    offer_id, token = put(helper)
    status, body, _ = helper.request("POST", "/" + offer_id, {"candidates": cands},
                                     {"X-icestorage-token": token})
    assert status == 400 and body["error"].startswith(message), body


def test_sixteen_candidates_and_ipv6_are_fine(helper):
    cands = [candidate(i) for i in range(15)] + [candidate(15, addr="[2001:db8::1]:5000")]
    offer_id, _ = put(helper, {"candidates": cands})
    assert helper.request("GET", "/" + offer_id)[1]["candidates"] == cands


def test_delete_with_the_token(helper):
    offer_id, token = put(helper, {"ufrag": "u"})
    assert helper.request("DELETE", "/" + offer_id, headers={"X-icestorage-token": "b" * 32})[0] \
        == 404
    assert helper.request("GET", "/" + offer_id)[0] == 200
    status, body, _ = helper.request("DELETE", "/" + offer_id,
                                     headers={"X-icestorage-token": token})
    assert status == 200 and body["deleted"] is True
    assert helper.request("GET", "/" + offer_id)[0] == 404
    assert helper.request("DELETE", "/" + offer_id, headers={"X-icestorage-token": token})[0] \
        == 404


def test_get_wait_returns_when_the_candidates_arrive(helper):
    offer_id, token = put(helper, {"ufrag": "u"})

    def later():
        time.sleep(0.6)
        helper.request("POST", "/" + offer_id, {"candidates": [candidate(0)]},
                       {"X-icestorage-token": token})

    t = threading.Thread(target=later)
    t0 = time.monotonic()
    t.start()
    status, got, _ = helper.request("GET", "/%s?wait=4" % offer_id)
    took = time.monotonic() - t0
    t.join()
    assert status == 200 and got["candidates"] == [candidate(0)]
    assert 0.5 <= took < 2.5, took


def test_get_wait_gives_what_there_is_after_n_seconds(helper):
    offer_id, _ = put(helper, {"ufrag": "u"})
    t0 = time.monotonic()
    status, got, _ = helper.request("GET", "/%s?wait=1" % offer_id)
    took = time.monotonic() - t0
    assert status == 200 and got["ufrag"] == "u" and "candidates" not in got
    assert 0.9 <= took < 3, took
    # with candidates there already, no waiting
    offer_id, _ = put(helper, {"candidates": [candidate(0)]})
    t0 = time.monotonic()
    assert helper.request("GET", "/%s?wait=5" % offer_id)[0] == 200
    assert time.monotonic() - t0 < 0.9
    # unknown ids are 404 at once
    t0 = time.monotonic()
    assert helper.request("GET", "/1234567890?wait=5")[0] == 404
    assert time.monotonic() - t0 < 0.9


@pytest.mark.parametrize("query", ["wait=abc", "wait=-1", "wait=nan"])
def test_bad_wait_is_400(helper, query):
    offer_id, _ = put(helper)
    status, body, _ = helper.request("GET", "/%s?%s" % (offer_id, query))
    assert status == 400 and body["error"].startswith("wait: a number of seconds"), body


def test_turn_credentials_in_the_put_reply(helper):
    import base64
    import hmac
    status, body, _ = helper.request("PUT", "/", {})
    t = body["turn"]
    expiry, _, user = t["username"].partition(":")
    assert user == body["id"] and abs(int(expiry) - time.time() - 3600) < 5
    assert t["password"] == base64.b64encode(hmac.new(b"not-a-real-secret", t["username"].encode(),
                                                      hashlib.sha1).digest()).decode()
    assert t["ttl"] == 3600 and t["uris"] == ["turn:127.0.0.1:3478?transport=udp"]


def test_healthz_and_metrics(helper, backend):
    status, body, _ = helper.request("GET", "/healthz")
    assert status == 200 and body["status"] == "ok" and body["backend"] == backend
    _, before, _ = helper.request("GET", "/metrics")
    offer_id, _ = put(helper, {"ufrag": "u"})
    helper.request("GET", "/" + offer_id)
    helper.request("GET", "/9898989898")
    _, after, _ = helper.request("GET", "/metrics")

    def value(text, name):
        return float(re.search(r"^%s (\S+)$" % re.escape(name), text, re.M).group(1))

    assert value(after, "icehelper_offers_stored_total") == \
        value(before, "icehelper_offers_stored_total") + 1
    assert value(after, "icehelper_offers_read_total") == \
        value(before, "icehelper_offers_read_total") + 1
    assert value(after, "icehelper_not_found_total") == \
        value(before, "icehelper_not_found_total") + 1
    for name in ("icehelper_offers_expired_total", 'icehelper_limited_total{kind="miss"}',
                 "icehelper_offers_live", "icehelper_backend_up"):
        value(after, name)
    # only from metrics_from (loopback by default); elsewhere it does not exist
    assert "# TYPE icehelper_offers_stored_total counter" in after


def test_nothing_secret_in_the_logs(helper):
    offer_id, token = put(helper, {"ufrag": "secretufrag", "pwd": "secretpassword" * 2})
    helper.request("POST", "/" + offer_id, {"candidates": [candidate(0, foundation="Hsecretf")]},
                   {"X-icestorage-token": token})
    helper.request("POST", "/" + offer_id, {}, {"X-icestorage-token": "wrongtokenvalue"})
    helper.request("GET", "/" + offer_id)
    helper.request("PUT", "/", raw=b'{"pwd": 5, "x": "secretbad"}')
    time.sleep(0.2)
    logs = helper.logs()
    assert "listening on" in logs  # the log is the right one (debug level)
    for secret in (token, "secretufrag", "secretpassword", "Hsecretf", "wrongtokenvalue",
                   "secretbad"):
        assert secret not in logs


def test_read_budget_and_expiry(tmp_path, backend, redis_server):
    h = start(tmp_path, backend, redis_server, store={"max_reads": "3", "lifetime": "2"})
    try:
        offer_id, token = put(h, {"ufrag": "u"})
        assert [h.request("GET", "/" + offer_id)[0] for _ in range(4)] == [200, 200, 200, 404]
        # a write keeps an offer alive for the lifetime from then on
        keep_id, keep_token = put(h, {"ufrag": "k"})
        time.sleep(1.2)
        assert h.request("POST", "/" + keep_id, {"pwd": "p"}, {"X-icestorage-token": keep_token}
                         )[0] == 200
        time.sleep(1.2)
        assert h.request("GET", "/" + keep_id)[0] == 200
        assert h.request("POST", "/" + offer_id, {}, {"X-icestorage-token": token})[0] == 404
        time.sleep(2.3)  # the sweeper runs each second
        assert h.request("GET", "/" + keep_id)[0] == 404
        _, text, _ = h.request("GET", "/metrics")
        assert re.search(r"^icehelper_offers_expired_total 2$", text, re.M), text
        assert re.search(r"^icehelper_offers_live 0$", text, re.M), text
    finally:
        assert h.stop() == 0


def test_metrics_only_for_allowed_addresses(tmp_path, backend, redis_server):
    h = start(tmp_path, backend, redis_server, server={"metrics_from": "127.0.0.1/32"})
    try:
        assert h.request("GET", "/metrics")[0] == 200
        assert h.request("GET", "/metrics", source="127.0.0.2")[0] == 404
    finally:
        h.stop()


def test_metrics_through_a_trusted_proxy_only_for_allowed_clients(tmp_path, backend,
                                                                    redis_server):
    # the usual reverse proxy on the same machine: its own address (127.0.0.1) is allowed, but
    # what it forwards comes from the internet; before, everybody read /metrics through it
    h = start(tmp_path, backend, redis_server,
              server={"metrics_from": "127.0.0.0/8", "trusted_proxies": "127.0.0.1/32"})
    try:
        assert h.request("GET", "/metrics", headers={"X-Forwarded-For": "203.0.113.5"})[0] == 404
        assert h.request("GET", "/metrics", headers={"X-Forwarded-For": "127.0.0.9"})[0] == 200
        assert h.request("GET", "/metrics")[0] == 200  # the proxy's own request
    finally:
        h.stop()


def test_the_store_limit_answers_503(tmp_path, backend, redis_server):
    h = start(tmp_path, backend, redis_server, store={"max_offers": "5"})
    try:
        for _ in range(5):
            put(h)
        status, body, headers = h.request("PUT", "/", {})
        assert status == 503 and "as many offers" in body["error"] and headers["Retry-After"]
    finally:
        h.stop()


def test_other_methods(helper):
    status, _, headers = helper.request("PATCH", "/1234567890", {})
    assert status == 405 and "GET" in headers["Allow"]
    # ZSipOs's route takes PUT on /<digits> as on /
    assert helper.request("PUT", "/42", {})[0] == 200
