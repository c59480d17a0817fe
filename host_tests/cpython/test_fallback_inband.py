"""The ICE fallback's number as in-band tones, end to end on loopback: a CPython box and a
MicroPython box (fallback_box.py) on real sockets, the real helper over HTTPS, and a provider
relay that drops ZRTP and strips RFC 4733 telephone-events (a PSTN leg; the call's SDPs carry no
telephone-event). The numbers go as DTMF tones in the phones' G.711 streams, each box's detector
finds the other's frame, ICE and ZRTP follow: both SECURE on the direct path with equal SAS."""
from test_fallback_loopback import Relay, _config, _ports, _result, _start, helper  # noqa: F401


def test_events_stripped_the_number_goes_in_band_both_secure(helper, tmp_path):  # noqa: F811
    h, ca = helper
    pa, pb = _ports(), _ports()
    relay = Relay(pa, pb, strip_pt=101).start()
    try:
        common = {"run_s": 3, "limit_s": 60, "sdp_events": []}
        sa = dict(common, config=_config(pa, pa + 3, h, ca), direction="out", peer="sip:b@x",
                  provider=["127.0.0.1", relay.ports[0]])
        sb = dict(common, config=_config(pb, pb + 3, h, ca), direction="in", peer="sip:a@x",
                  provider=["127.0.0.1", relay.ports[1]])
        procs = [_start("cpython", sa, tmp_path, "a"), _start("micropython", sb, tmp_path, "b")]
        ra, rb = _result(procs[0]), _result(procs[1])
    finally:
        relay.stop()
    for r in (ra, rb):
        assert r["security"] == "secure" and r["step"] == "direct", (r["reason"], r["log"][-30:])
        # every frame went as tones, the peer's came as tones
        assert r["frames_sent"][0] == 0 and r["frames_sent"][1] >= 1, r["frames_sent"]
        assert r["peer_form"] == 1
        assert r["unauthenticated"] == 0 and r["to_phone_secure"] > 60
    assert ra["sas"] == rb["sas"]
    assert ra["peer_id"] == rb["local_id"] and rb["peer_id"] == ra["local_id"]
    assert relay.dropped > 0 and relay.stripped == 0  # no event was even tried
