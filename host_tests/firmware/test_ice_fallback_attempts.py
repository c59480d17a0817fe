"""The ICE fallback (zerotap.ice.fallback) over more than one attempt in a call, on the simulated
network of fallbacksim.py: answers the helper gives to an earlier attempt, a retry on one box
while the other still runs its attempt."""
import json

from fallbacksim import Sim

from zerotap import status
from zerotap.ice import fallback as fbmod


def _until(sim, cond, ms=30000):
    sim.run(sim.net.now + ms, stop=cond)
    assert cond()


def _fail_and_retry(sim, box, reason="cannot resolve stun.example: no answer"):
    """BOX's attempt ends (the runtime gives up on it) and its user presses retry at once."""
    now = sim.net.now
    box.fb.fail(reason, now)
    assert box.fb.step == fbmod.FAILED
    assert box.fb.retry(now) and box.fb.step == fbmod.PREPARE


def _held(box, tag):
    """BOX's pending helper requests tagged like TAG's kind, taken out of the helper's queue
    (they are answered later, by hand)."""
    got = [p for p in box.pending if p[2] == tag]
    box.pending = [p for p in box.pending if p[2] != tag]
    return got


def test_a_late_failure_of_an_earlier_attempts_request_does_not_end_the_retry():
    # A's GET for B's offer is still out (the helper holds it, ?wait) when A's attempt ends;
    # A's user retries at once. The old GET then times out: that ended the new attempt
    sim = Sim(blocked=True)
    a, b = sim.boxes
    _until(sim, lambda: any(p[2] == "GET" for p in a.pending))
    old = _held(a, "GET")
    _fail_and_retry(sim, a)
    sim.run(sim.net.now + 100)
    for p in old:
        a.fb.helper_failed(p[1], "timed out", sim.net.now)
    assert a.fb.step != fbmod.FAILED, a.fb.reason
    assert a.fb.attempts == 2


def test_the_put_answer_of_an_earlier_attempt_is_not_taken_by_the_retry():
    # A's PUT is out when its attempt ends; the retry sends its own. The first PUT's answer came
    # first and was taken as the new attempt's number (with the credentials of the old one);
    # the new attempt's own record was deleted as late
    sim = Sim(blocked=True)
    a, b = sim.boxes
    b.fb.after_ms = 60000  # B stays out of it
    _until(sim, lambda: a.fb.step == fbmod.PREPARE)
    old = _held(a, "PUT")
    _fail_and_retry(sim, a)
    new = _held(a, "PUT")
    now = sim.net.now
    ids = []
    for p in old + new:
        got = sim.helper.handle(p[2], p[3], p[4], p[5])
        ids.append(json.loads(got[1])["id"])
        a.fb.helper_reply(p[1], got[0], got[1], now)
    sim.run(sim.net.now + 500)
    assert a.fb.local_id == ids[1], (a.fb.local_id, ids)
    assert list(sim.helper.offers) == [ids[1]], (list(sim.helper.offers), ids)


def test_a_late_get_of_an_earlier_attempt_is_not_taken_as_the_peers_offer():
    # A asked for B's offer (complete at the helper by then); the answer arrives after A's
    # attempt ended and its retry began (with a new number, a new agent): it was taken as the
    # offer of the peer of the new attempt, and ICE ran against it before any frame of this
    # attempt was heard
    sim = Sim(blocked=True)
    a, b = sim.boxes

    def complete():
        o = sim.helper.offers.get(b.fb.local_id)
        return o is not None and o[0]["candidates"] != []
    _until(sim, lambda: complete() and any(p[2] == "GET" for p in a.pending))
    old = _held(a, "GET")
    answers = [sim.helper.handle(p[2], p[3], p[4], p[5]) for p in old]
    assert [g[0] for g in answers] == [200]
    _fail_and_retry(sim, a)
    sim.run(sim.net.now + 100)
    now = sim.net.now
    for p, got in zip(old, answers):
        a.fb.helper_reply(p[1], got[0], got[1], now)
    sim.run(now + 200)
    # no check list before a frame of the peer was heard in this attempt
    assert a.fb.step != fbmod.CONNECT and a.fb.agent.pairs == [], (a.fb.step, a.fb.agent.pairs)


def test_no_second_get_goes_beside_the_one_out():
    # the helper holds a GET (?wait) for a second; the 404 of the earlier attempt's GET came
    # while the new attempt's GET was out, and a second GET for the same number went out
    # beside it
    sim = Sim(blocked=True, helper_ms=1000)
    a, b = sim.boxes
    _until(sim, lambda: any(p[2] == "GET" for p in a.pending))
    old = _held(a, "GET")
    _fail_and_retry(sim, a)
    _until(sim, lambda: any(p[2] == "GET" for p in a.pending))
    now = sim.net.now
    for p in old:
        a.fb.helper_reply(p[1], 404, b'{"error": "not found"}', now)
    sim.run(now + fbmod.GET_RETRY_MS + 100)
    gets = [p for p in a.pending if p[2] == "GET"]
    assert len(gets) == 1, gets


def test_a_retry_on_one_box_while_the_other_still_checks_goes_secure():
    # both boxes check (ICE on the direct path); box A gives up (its attempt ends) and its user
    # presses retry: A has a new number and a new agent, and sends "*A" + the new number. Box B
    # went on with its attempt: ICE against A's old offer, its own number already sent and
    # confirmed, so it stayed silent; A never heard B again ("no box at the far end answered")
    # and B ran into its deadline
    sim = Sim(blocked=True)
    a, b = sim.boxes
    _until(sim, lambda: a.fb.step == fbmod.CONNECT and b.fb.step == fbmod.CONNECT)
    _fail_and_retry(sim, a, "ICE failed: no pair")
    sim.run(sim.net.now + fbmod.DEADLINE_MS, stop=sim.both_secure)
    assert sim.both_secure(), (a.fb.step, a.fb.reason, b.fb.step, b.fb.reason)
    assert a.call.sas == b.call.sas and a.call.security == status.SECURE
    assert a.fb.peer_id == b.fb.local_id and b.fb.peer_id == a.fb.local_id
