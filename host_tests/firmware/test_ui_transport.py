"""The idle screens show the transport toward the provider, the public address behind NAT, and
why the provider cannot be reached (issue 13); with plain UDP and no NAT they are as before."""
from zerotap import status as st
from zerotap.ui import canvas, screens


def _box(registered=True):
    box = st.BoxStatus()
    box.set_network(True, "10.0.0.2")
    box.set_registered(registered)
    return box


def _drawn(box, w=128, h=64):
    log = []
    buf = bytearray(canvas.buffer_size(w, h))
    name = screens.render(box, canvas.frame(buf, w, h), w, h, log)
    return name, log


def test_transport_and_public_address_on_the_ready_screen():
    box = _box()
    name, log = _drawn(box)
    assert name == screens.IDLE and not any(t.startswith("UDP") for t in log)
    box.set_transport("TLS")
    box.set_public("203.0.113.1:5080")
    name, log = _drawn(box)
    assert "TLS 203.0.113.1:5080" in log, log
    box.set_transport("UDP")
    assert "UDP 203.0.113.1:5080" in _drawn(box)[1]


def test_registration_error_is_shown_with_its_reason():
    box = _box(registered=False)
    box.set_transport("TLS")
    box.set_registration_error("network: tls: certificate verify failed: Hostname mismatch")
    for w, h in screens.SIZES:
        name, log = _drawn(box, w, h)
        assert name == screens.NETWORK_UP
        bar = [t for t in log if t.startswith("! network: tls: cert")]
        assert bar, (w, h, log)
        assert "phone not registered" not in log
    box.set_registered(True)  # a registration clears it
    assert box.registration_error is None
    assert not any(t.startswith("! ") for t in _drawn(box)[1])
