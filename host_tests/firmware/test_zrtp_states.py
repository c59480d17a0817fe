"""The ZRTP engine's state table (``engine.TAKES``) against the transitions the engine makes.

Real exchanges drive the engines: engine against engine (both roles, Commit contention, loss,
duplication and reordering, multistream, every late repeat after SECURE and after GoClear), and
the messages of bzrtp's DH3k wire trace. Every handler call is recorded with the state it ran in:

- each (state, message) a handler took must be listed in the table for that state (a handler
  reached another way, or a dispatcher that lets a state take more than it lists, fails);
- each entry of the table must be reached (no dead entries);
- a message a state does not list must never reach a handler: it is dropped, or ignored quietly
  when ``engine._IGNORED`` says it is a late repeat.

An engine whose dispatcher skips the table shows that the check bites: its handlers, which no
longer guard their state themselves, take what their state does not list."""
import gc

from backtoback import events
from test_zrtp_engine import Sim
from vectors import each, unhex

from zerotap import crypto
from zerotap.zrtp import algorithms, engine as E, packets

X255 = algorithms.Offer(key_agreements=("X255",), multistream=True)  # the test runs a second stream
EVERY_STATE = (packets.PING, packets.PINGACK, packets.CLEARACK, packets.RELAYACK, packets.ERROR,
               packets.ERRORACK)


def _handlers():
    names = set()
    for takes in E.TAKES.values():
        for name in takes.values():
            names.add(name)
    return sorted(names)


class Recorder:
    """Records, for every engine it watches, each handler call: (state, message type, handler)
    in ``taken`` (the handler did not drop it) or ``dropped``; and the messages that reached no
    handler: ``ignored`` (quietly) and ``refused`` (dropped by the dispatcher)."""

    def __init__(self):
        self.taken = set()
        self.dropped = set()
        self.ignored = set()
        self.refused = set()

    def watch(self, eng):
        for name in _handlers():
            setattr(eng, name, self._wrap(eng, name, getattr(eng, name)))
        dispatch = eng._dispatch
        calls = [0]
        eng._calls = calls

        def watched(msg, ssrc, now_ms):
            state, before, n = eng.state, eng.dropped, calls[0]
            dispatch(msg, ssrc, now_ms)
            t = msg.TYPE
            if calls[0] == n and t not in EVERY_STATE:
                (self.ignored if eng.dropped == before else self.refused).add((state, t))

        eng._dispatch = watched
        return eng

    def _wrap(self, eng, name, handler):
        def wrapped(msg, now_ms):
            state, before = eng.state, eng.dropped
            eng._calls[0] += 1
            handler(msg, now_ms)
            (self.taken if eng.dropped == before else self.dropped).add((state, msg.TYPE, name))
        return wrapped

    def reached(self):
        return set((s, t) for s, t, _ in self.taken | self.dropped)

    def unlisted(self):
        """Handler calls the table does not list for their state, sorted."""
        return sorted((s, t, n) for s, t, n in self.taken | self.dropped if E.TAKES[s].get(t) != n)


def _shuttle(a, b, log, now=0, replay=False):
    """Deliver every packet both ways until nothing moves; LOG collects (sender, packet). With
    REPLAY, whenever an engine comes to a new state, every distinct message its peer sent before
    comes again (late repeats in every state)."""
    def again(dst, src):
        seen = set()
        for s, q in log:
            if s is src and q[12:-4] not in seen:
                seen.add(q[12:-4])
                dst.receive(q, now)
        dst.receive(_frame_ack(src, packets.CONF2ACK), now)  # and a stray Conf2ACK

    for _ in range(200):
        moved = False
        for src, dst in ((a, b), (b, a)):
            for p in src.datagrams_to_send():
                moved = True
                state = dst.state
                dst.receive(p, now)
                log.append((src, p))
                if replay and dst.state != state:
                    again(dst, src)
            state = src.state
            while src.busy:
                src.handle_timer(now)
                moved = True
            if replay and src.state != state:
                again(src, dst)
        if not moved:
            return
    raise AssertionError("the exchange does not settle")


def _pair(rec, initiate_b=True, allow_clear=False, seed=0):
    a = E.Engine(0x0A0A0A0A + seed, config=E.Config(offer=X255, allow_clear=allow_clear))
    b = E.Engine(0x0B0B0B0B + seed, config=E.Config(offer=X255, initiate=initiate_b, allow_clear=allow_clear))
    return rec.watch(a), rec.watch(b)


def _replay_all(log, a, b, now):
    for src, p in log:
        (b if src is a else a).receive(p, now)


def _goclear_from(x):
    k = x._keys
    mackey = k.mackeyi if x.role == E.INITIATOR else k.mackeyr
    return packets.frame(0x0100, x.ssrc, packets.GoClear(x._hash.hmac(mackey, b"GoClear")[:8]).encode())


def _sas_relay_from(x):
    k = x._keys
    zk, mk = (k.zrtpkeyi, k.mackeyi) if x.role == E.INITIATOR else (k.zrtpkeyr, k.mackeyr)
    relay = packets.SasRelay.seal(packets.SasRelayBody(True, False, False, b"B32 ", bytes(range(32))), bytes(16),
                                  zk, mk, x._hash.hmac)
    return packets.frame(0x0101, x.ssrc, relay.encode())


def _drive(rec):
    # engine against engine with every earlier packet repeated after each one, both role layouts
    for initiate_b in (False, True):
        # the last layout's engines and logs go before the next pair is made (here and for each
        # Sim below): with two at once, the board32 rig ran out of its 112 KiB heap in one full
        # run and of a 100 KiB heap in every run; one at a time, 100 KiB is enough
        a = b = a2 = b2 = log = log2 = None
        gc.collect()
        a, b = _pair(rec, initiate_b=initiate_b, allow_clear=True, seed=int(initiate_b))
        log = []
        a.start(0)
        b.start(0)
        _shuttle(a, b, log, replay=True)
        assert a.state == E.SECURE and b.state == E.SECURE, (a.state, b.state)
        _replay_all(log, a, b, 10)  # every message again, after SECURE
        for x, y in ((a, b), (b, a)):
            x.receive(_sas_relay_from(y), 20)
        a.receive(_goclear_from(b), 30)
        b.receive(_goclear_from(a), 30)
        assert a.state == E.CLEAR and b.state == E.CLEAR
        _replay_all(log, a, b, 40)  # and after GoClear
        # multistream: a second stream of the same call, keyed from the first
        a2, b2 = rec.watch(a.new_stream(0x0A0A0A00)), rec.watch(b.new_stream(0x0B0B0B00))
        log2 = []
        a2.start(50)
        b2.start(50)
        _shuttle(a2, b2, log2, now=50, replay=True)
        assert a2.state == E.SECURE and b2.state == E.SECURE
    # loss, duplication and reordering, Commit contention among them (test_zrtp_engine's Sim)
    for seed in (1, 2, 3):
        a = b = a2 = b2 = log = log2 = None
        gc.collect()
        a, b = _pair(rec, seed=seed + 2)
        Sim(a, b, seed=seed, loss=0.25, dup=0.25, jitter=40).run()
        assert a.state == E.SECURE and b.state == E.SECURE
    # the engines above go before the DH3k part: its bignums need blocks of 770 bytes, which a
    # board's heap strewn with their messages may not have
    a = b = a2 = b2 = log = log2 = None
    gc.collect()
    # bzrtp's DH3k wire trace: its initiator's Hello and Commit, its responder's HelloACK and
    # Conf2ACK, its initiator's DHPart2, some of them again (read one packet at a time)
    trace = {}
    for p in each("zrtp_bzrtp_dh3k_trace.json", "packets"):
        trace[(p["type"], p["ssrc"])] = unhex(p["packet"])
    # (the pure backend makes the DH3k key pair in slices, on both interpreters)
    c = rec.watch(E.Engine(0x0C0C0C0C, config=E.Config(initiate=False), ka_backend=crypto.backend("python")))
    c.start(0)
    for key in (("Conf2ACK", "12345678"), ("Hello", "87654321"), ("HelloACK", "12345678"),
                ("Commit", "87654321")):
        c.receive(trace[key], 5)  # a stray Conf2ACK first
    assert c.state == E.COMMIT_RECEIVED and c.busy
    for key in (("Hello", "87654321"), ("Commit", "87654321"), ("DHPart2", "87654321")):
        c.receive(trace[key], 6)  # while the key pair is made: HelloACK, then nothing
    while c.busy:
        c.handle_timer(7)
    assert c.state == E.DHPART1_SENT and c.role == E.RESPONDER and c.peer_zid is not None
    c.receive(trace[("Commit", "87654321")], 8)  # DHPart1 again
    c.receive(trace[("DHPart2", "87654321")], 9)  # its hvi was made with bzrtp's Hello, not ours
    assert c.state == E.FAILED and events(c)[-1].code == packets.ERROR_BAD_HVI
    # a Hello to an engine that has not started: it joins in
    d = rec.watch(E.Engine(0x0D0D0D0D))
    d.receive(trace[("Hello", "12345678")], 0)
    assert d.state == E.DISCOVERY


def _frame_ack(x, typ):
    return packets.frame(0x0102, x.ssrc, packets.Ack(typ).encode())


def test_state_table_matches_the_transitions_the_engine_makes():
    rec = Recorder()
    _drive(rec)
    assert rec.unlisted() == [], rec.unlisted()
    listed = set()
    for state, takes in E.TAKES.items():
        for t in takes:
            listed.add((state, t))
    dead = sorted(listed - rec.reached())
    assert dead == [], dead
    # nothing the table leaves out reached a handler, and what was ignored quietly is listed so
    for state, t in rec.ignored:
        assert t in E._IGNORED.get(state, ()), (state, t)
    for state, t in rec.refused:
        assert t not in E.TAKES[state] and t not in E._IGNORED.get(state, ()), (state, t)
    assert rec.refused  # late repeats that no state takes were seen, and dropped
    for state, ignored in E._IGNORED.items():
        for t in ignored:
            assert t not in E.TAKES[state], (state, t)
            assert (state, t) in rec.ignored, (state, t)  # no dead entries here either


class _Unguarded(E.Engine):
    """A broken dispatcher: every message goes to a handler of its type, whatever the state."""

    def _dispatch(self, msg, ssrc, now_ms):
        t = msg.TYPE
        if t in EVERY_STATE or self.state == E.IDLE:
            return E.Engine._dispatch(self, msg, ssrc, now_ms)
        name = E.TAKES[self.state].get(t)
        if name is None:
            for state in (E.DISCOVERY, E.COMMIT_SENT, E.DHPART1_SENT, E.CONFIRM1_SENT, E.CONFIRM2_SENT,
                          E.SECURE):
                name = E.TAKES[state].get(t)
                if name is not None:
                    break
        getattr(self, name)(msg, now_ms)


def test_a_handler_taking_what_its_state_does_not_list_fails_the_check():
    rec = Recorder()
    a = rec.watch(_Unguarded(0x0A0A0A0A, config=E.Config(offer=X255)))
    b = rec.watch(_Unguarded(0x0B0B0B0B, config=E.Config(offer=X255, initiate=False)))
    a.start(0)
    b.start(0)
    _shuttle(a, b, [], replay=True)
    wrong = rec.unlisted()
    assert wrong, "the unguarded engines took nothing their state does not list"
    # e.g. the HelloACKs that keep coming after the Commit
    assert [w for w in wrong if w[1] == packets.HELLOACK], wrong
