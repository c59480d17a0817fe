"""The seams of zerotap.seams: the real parts fill them, and the runtime uses a secure factory only
through its seam (idle work while no call has media, the warning, close at shutdown)."""
import os

from support import scratch
from zerotap import config, media, seams
from zerotap.runtime import box as runtime_box
from zerotap.runtime import secure as runtime_secure
from zerotap.runtime import udp


def test_the_real_parts_fill_their_seams():
    for cls in (runtime_box.MediaFactory, runtime_box.CallMedia, media.ZrtpLeg,
                runtime_secure.SecureFactory, seams.ClearFactory):
        assert seams.abstract(cls) == [], (cls, seams.abstract(cls))
    assert issubclass(runtime_box.MediaFactory, seams.MediaFactory)
    assert issubclass(runtime_box.CallMedia, seams.CallMedia)
    assert issubclass(media.ZrtpLeg, seams.SecureLeg)
    assert issubclass(runtime_secure.SecureFactory, seams.SecureFactory)


def test_a_part_that_misses_a_method_is_told():
    class Half(seams.SecureLeg):
        def bind(self, session):
            self.session = session

    missing = seams.abstract(Half)
    assert "protect" in missing and "bind" not in missing and len(missing) == 10
    try:
        Half().protect(bytearray(10), 10, False)
    except NotImplementedError as e:
        assert str(e) == "Half leaves a method of its seam unfilled (zerotap.seams.abstract tells which)"
    else:
        assert False, "the base must not pretend to protect"
    assert seams.ClearFactory().leg(None, None) is None
    base = seams.SecureFactory()
    assert base.warning is None and base.step_pool() is False and base.close() is None


class _Factory(seams.SecureFactory):
    """Clear calls, counted idle slices, a warning, a close."""

    warning = "the trust cache is new"

    def __init__(self, slices):
        self.left = slices
        self.steps = 0
        self.closed = 0

    def leg(self, call_status, call_media):
        return None

    def step_pool(self):
        self.steps += 1
        self.left -= 1
        return self.left > 0

    def close(self):
        self.closed += 1


def _config(tmp):
    low = 20000 + 2 * (int.from_bytes(os.urandom(2), "big") % 5000)
    return config.parse({
        "phone": {"sip": "127.0.0.1:%d" % low, "allow": ["127.0.0.1"],
                  "rtp": "%d-%d" % (low + 1000, low + 1009)},
        "network": {"sip": "127.0.0.1:%d" % (low + 2), "rtp": "%d-%d" % (low + 1010, low + 1019)},
        "status": tmp + "/status.jsonl",
        "control": "127.0.0.1:%d" % (low + 4),
    })


def test_the_box_steps_the_pool_while_idle_and_closes_the_factory():
    tmp = scratch("seams")
    logs = []
    factory = _Factory(3)
    b = runtime_box.Box(_config(tmp), log=logs.append, secure_factory=factory)
    try:
        assert b.status.warning == "the trust cache is new" and logs[0] == "the trust cache is new"
        for i in range(6):
            t = b.timer()
            if t is None:
                break
            assert t <= b.loop.clock() + 5  # idle work: one slice every few ms
            b.handle_timer(t)
        assert factory.steps == 3 and b.timer() is None  # until step_pool said nothing is left
        m = b.media_factory.open(b.status.new_call(1, "out", "sip:bob@192.0.2.9"))
        assert b.media == [m] and m.session.secure is None and m.hello_hash() is None
        b.handle_timer(b.loop.clock() + 10)
        assert factory.steps == 3  # never while a call has media
        m.close()
        assert b.media == []
        b.handle_timer(b.loop.clock() + 20)
        assert factory.steps == 4  # the call is gone: idle work again
    finally:
        b.shutdown()
    assert factory.closed == 1


def test_a_box_without_a_secure_factory_runs_calls_in_clear():
    tmp = scratch("seams-clear")
    b = runtime_box.Box(_config(tmp), log=lambda text: None)
    try:
        assert isinstance(b.secure_factory, seams.ClearFactory) and b.status.warning is None
        m = b.media_factory.open(b.status.new_call(1, "in", "sip:carol@192.0.2.10"))
        assert m.session.secure is None and m.ports(0)[1] == m.ports(0)[0] + 1
        m.close()
    finally:
        b.shutdown()
