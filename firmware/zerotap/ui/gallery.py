"""One example status for every screen: the golden images, the README screenshots and the host
board's ``--gallery`` all draw these."""
from zerotap import status as st

PEER = "sip:bob@192.0.2.10"
IP = "192.168.1.50"
ZID = "0123456789abcdef01234567"


def _box(network=True, registered=True):
    box = st.BoxStatus()
    if network:
        box.set_network(True, IP)
        box.set_registered(registered)
    return box


def _secure(call, sas="ouga", sas_type="B32", cache=st.CACHE_MATCH, verified=False):
    call.set_state(st.ACTIVE)
    call.negotiating()
    call.set_secure(sas, sas_type, "S256", "AES1", "HS80", "DH3k", ZID, cache, verified)
    return call


def boot():
    return st.BoxStatus()


def network_down():
    box = st.BoxStatus()
    box.set_network(False)
    return box


def network_up():
    return _box(registered=False)


def idle():
    return _box()


def ringing():
    box = _box()
    box.new_call(1, "in", "sip:alice@198.51.100.7")
    return box


def calling():
    box = _box()
    box.new_call(1, "out", PEER)
    return box


def clear():
    box = _box()
    box.new_call(1, "out", PEER).set_state(st.ACTIVE)
    return box


def negotiating():
    box = _box()
    call = box.new_call(1, "out", PEER)
    call.set_state(st.ACTIVE)
    call.negotiating()
    return box


def secure():
    box = _box()
    _secure(box.new_call(1, "out", PEER))
    return box


def secure_b256():
    box = _box()
    _secure(box.new_call(1, "out", PEER), "aardvark adroitness", "B256")
    return box


def verified():
    box = _box()
    _secure(box.new_call(1, "out", PEER), "h769", verified=True)
    return box


def mismatch():
    box = _box()
    _secure(box.new_call(1, "out", PEER), "8ejk", cache=st.CACHE_MISMATCH)
    return box


def alarm():
    box = _box()
    call = _secure(box.new_call(1, "out", PEER), verified=True)
    call.alarm("plain RTP after SRTP started")
    return box


def failed():
    box = _box()
    call = box.new_call(1, "out", PEER)
    call.set_state(st.ACTIVE)
    call.negotiating()
    call.fail("no ZRTP Hello from the peer")
    return box


def config_error():
    box = _box()
    box.set_config_error("phone.allow[1]", "bad address or CIDR '10.0.0.0/33'", fallback=True)
    return box


def two_calls():
    box = _box()
    _secure(box.new_call(1, "out", PEER), "ybnd")
    box.new_call(2, "in", "sip:carol@203.0.113.9")
    return box


def warning():
    box = _box()
    box.set_warning("ZRTP cache was corrupt")
    return box


def _fallback(step, reason=None):
    box = _box()
    call = box.new_call(1, "out", PEER)
    call.set_state(st.ACTIVE)
    call.negotiating()
    call.set_clear("the peer does not answer ZRTP")
    call.set_fallback(step, reason)
    return box, call


def fallback_blocked():
    return _fallback("blocked")[0]


def fallback_exchanging():
    return _fallback("exchanging")[0]


def fallback_connecting():
    return _fallback("connecting")[0]


def secure_direct():
    box, call = _fallback("zrtp")
    _secure(call, "9wka")
    call.set_fallback("direct")
    return box


def fallback_failed():
    box, call = _fallback("failed", "no box at the far end answered")
    call.set_clear("ICE fallback: no box at the far end answered")
    return box


def web_password():
    box = _box()
    box.web_password = "k7mq2xwp4d"
    box.web_port = 8080
    return box


# (name, builder, the screen it must show)
SAMPLES = (
    ("boot", boot, "boot"),
    ("network_down", network_down, "network_down"),
    ("network_up", network_up, "network_up"),
    ("idle", idle, "idle"),
    ("warning", warning, "idle"),
    ("ringing", ringing, "ringing"),
    ("calling", calling, "calling"),
    ("clear", clear, "clear"),
    ("negotiating", negotiating, "negotiating"),
    ("secure", secure, "secure"),
    ("secure_b256", secure_b256, "secure"),
    ("verified", verified, "verified"),
    ("mismatch", mismatch, "mismatch"),
    ("alarm", alarm, "alarm"),
    ("failed", failed, "failed"),
    ("config_error", config_error, "config_error"),
    ("two_calls", two_calls, "secure"),
    ("fallback_blocked", fallback_blocked, "fallback"),
    ("fallback_exchanging", fallback_exchanging, "fallback"),
    ("fallback_connecting", fallback_connecting, "fallback"),
    ("secure_direct", secure_direct, "secure"),
    ("fallback_failed", fallback_failed, "clear"),
    ("web_password", web_password, "web_password"),
)
