"""The memory store in process, with its clock driven by the test: offers expire in the order of
their last write (a POST keeps one alive), a deleted one is not counted as expired, and the live
offers are not walked by the garbage collector."""
import asyncio
import gc
import json
import sys

from hostenv import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from icehelper import memory, offers, store  # noqa: E402
from icehelper.config import Config  # noqa: E402
from icehelper.metrics import Metrics  # noqa: E402

OFFER = {"ufrag": "u", "pwd": "p", "candidates": [
    {"foundation": "f", "prio": 1, "compid": 1, "addr": "1.2.3.4:5", "default": True, "type": 0}]}


def _store(tmp_path, more=""):
    conf = tmp_path / "c.conf"
    conf.write_text("[server]\nhttp = 127.0.0.1:1\n[store]\nlifetime = 300\nmax_reads = 100\n"
                    + more +
                    "[limits]\nput = 0/1\npost = 0/1\nget = 0/1\nmiss = 0/1\n")
    return memory.MemoryStore(Config.load(str(conf)), Metrics())


def _run(coro):
    return asyncio.run(coro)  # a loop of its own, closed at the end


def test_offers_expire_in_the_order_of_their_last_write(tmp_path, monkeypatch):
    s = _store(tmp_path)
    clock = [1000.0]
    monkeypatch.setattr(memory.time, "time", lambda: clock[0])
    fields, ready = offers.parse_offer(json.dumps(OFFER).encode())

    async def go():
        ids = []
        for _ in range(5):
            ids.append(await s.put("a", dict(fields), ready, "h"))
            clock[0] += 10
        # t = 1050: the second offer written again; the fourth deleted
        assert await s.post("a", ids[1], "h", {'"x"': "1"}, None)
        assert await s.delete("a", ids[3], "h")
        clock[0] = 1000 + 300 + 15  # the first two writes are over 300 s old: the first expires
        assert await s.get("a", ids[0]) is None
        assert (await s.get("a", ids[1])) is not None  # written again at 1050: alive
        assert (await s.get("a", ids[2])) is not None
        assert s.live() == 3 and s.metrics.expired == 1
        clock[0] = 1045 + 300  # the third (1020) and the fifth (1040) are due, not the second
        assert await s.get("a", ids[2]) is None and await s.get("a", ids[4]) is None
        assert s.live() == 1 and s.metrics.expired == 3  # the deleted one is not counted
        body = await s.get("a", ids[1])
        assert json.loads(body)["expires"] == 1050 + 300
        clock[0] = 1050 + 300
        assert await s.get("a", ids[1]) is None
        assert s.live() == 0 and s.metrics.expired == 4
        assert not s._entries
    _run(go())


def _put_and_collect(s):
    async def go():
        ids = []
        for body in (json.dumps(OFFER).encode(), b'\xef\xbb\xbf{"a": [1, {"b": 2}]}'):
            fields, ready = offers.parse_offer(body)  # the fast path and the Python path
            ids.append(await s.put("a", fields, ready, "h"))
        return ids
    ids = _run(go())
    gc.collect()  # the fields' tuples stop being tracked here, the entries at the next pass
    gc.collect()
    return ids


def test_live_offers_are_not_walked_by_the_garbage_collector(tmp_path):
    s = _store(tmp_path)
    ids = _put_and_collect(s)

    async def go():
        assert await s.post("a", ids[0], "h", offers.parse_offer(b'{"x": {"y": []}}')[0], None)
        assert await s.get("a", ids[1])
    _run(go())
    gc.collect()
    gc.collect()
    for offer_id in ids:
        entry = s._entries[offer_id]
        assert not gc.is_tracked(entry) and not gc.is_tracked(entry[memory._PAIRS]), (
            entry, [(type(x), gc.is_tracked(x)) for x in entry + entry[0]])


def test_the_collector_check_fails_on_fields_kept_in_a_dict(tmp_path, monkeypatch):
    # the control: were the store to keep an entry's fields in a dict (all strings, so the
    # collector does not track the dict itself), the entries would stay tracked and the test
    # above would fail
    monkeypatch.setattr(memory, "_flat", dict)
    s = _store(tmp_path)
    ids = _put_and_collect(s)
    for offer_id in ids:
        entry = s._entries[offer_id]
        assert type(entry[memory._PAIRS]) is dict and not gc.is_tracked(entry[memory._PAIRS])
        assert gc.is_tracked(entry)


def test_limits_switched_off_count_nothing(tmp_path):
    s = _store(tmp_path)  # every limit 0/1
    ids = _put_and_collect(s)

    async def go():
        for offer_id in ids + ["0000000000"]:
            await s.get("b", offer_id)
            await s.post("c", offer_id, "wrong", {'"x"': "1"}, None)
            await s.delete("d", offer_id, "wrong")
    _run(go())
    assert s._limits._counts == {}  # no window kept for a limit that is off


def test_the_window_counter_keeps_no_window_for_a_limit_that_is_off(tmp_path):
    limits = _store(tmp_path).config.limits
    counter = store.WindowCounter(limits)
    for kind in ("put", "post", "get", "miss"):
        assert not counter.hit(kind, "a", 1000.0) and not counter.spent(kind, "a", 1000.0)
    assert counter._counts == {}


def test_an_id_already_taken_is_drawn_again(tmp_path):
    # ids are drawn ahead by the server; the store still refuses one that is taken and draws
    # another (the first offer is left as it was)
    s = _store(tmp_path)
    fields, ready = offers.parse_offer(json.dumps(OFFER).encode())
    first = s.put_now("a", dict(fields), ready, lambda now: (store.new_id(), "h1"), 1000.0)
    other = store.new_id()
    drawn = iter([(first[0], "h2"), (first[0], "h3"), (other, "h4")])
    assert s.put_now("a", dict(fields), ready, lambda now: next(drawn), 1001.0) == (other, "h4")
    assert s._entries[first[0]][memory._HASH] == "h1" and s._entries[other][memory._HASH] == "h4"
    assert s.live() == 2


def test_an_offer_due_after_the_clock_stepped_back_is_expired_by_a_put(tmp_path, monkeypatch):
    # the wall clock steps back 100 s (an NTP step), then the first offer is written again (POST
    # moves it to the end) or deleted and another one stored: the first in line is now older than
    # what PUT's expiry shortcut (MemoryStore._oldest) last saw. Once that offer is due, a PUT must
    # find it expired, as _expire walking from the front does, not count it against max_offers
    clock = [1000.0]
    monkeypatch.setattr(memory.time, "time", lambda: clock[0])
    fields, ready = offers.parse_offer(json.dumps(OFFER).encode())

    async def go(rewrite):
        clock[0] = 1000.0
        s = _store(tmp_path, "max_offers = 1\n")
        first = await s.put("a", dict(fields), ready, "h")
        clock[0] = 900.0
        if rewrite == "post":
            assert await s.post("a", first, "h", {'"x"': "1"}, None)  # written again at 900
        else:
            assert await s.delete("a", first, "h")
            await s.put("a", dict(fields), ready, "h")  # written at 900
        clock[0] = 900 + 300 + 0.5
        assert await s.put("a", dict(fields), ready, "h")  # the one written at 900 is due
        assert s.live() == 1 and s.metrics.expired == 1, rewrite
    for rewrite in ("post", "delete"):
        _run(go(rewrite))
