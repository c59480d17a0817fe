"""The ICE helper's config file: defaults, and a clear error naming the key for each bad value."""
import sys

import pytest

from hostenv import ROOT

sys.path.insert(0, str(ROOT / "tools"))
from icehelper.config import Config  # noqa: E402


def test_defaults():
    c = Config("[server]\nhttp = 127.0.0.1:9090\n")
    assert c.http == ("127.0.0.1", 9090) and c.https is None
    assert c.backend == "memory" and c.lifetime == 300 and c.max_reads == 10
    assert (c.limits["miss"].count, c.limits["miss"].seconds) == (10, 60)
    assert c.limits["miss"].count < c.limits["get"].count  # the enumeration brake is lower
    assert c.turn_secret == "" and c.turn_ttl == 12 * 3600
    assert c.max_connections_per_address == 64 and c.request_timeout == 10


def test_the_example_config_loads(tmp_path):
    text = (ROOT / "tools/icehelper/icehelper.conf.example").read_text()
    (tmp_path / "turn-secret").write_text("s3cret\n")
    text = text.replace("/etc/icehelper/turn-secret", str(tmp_path / "turn-secret"))
    c = Config(text)
    assert c.https == ("0.0.0.0", 443) and c.http == ("0.0.0.0", 9090)
    assert c.turn_secret == "s3cret" and len(c.turn_uris) == 2


@pytest.mark.parametrize("text, message", [
    ("", "config: [server] needs https (with cert and key) or http"),
    ("[server]\nhttps = 0.0.0.0:443\n", "config: [server] https needs cert and key"),
    ("[server]\nhttp = 9090\n", "config: [server] http: '9090' is not HOST:PORT"),
    ("[server]\nhttp = :1\ntrusted_proxies = 10.0.0.0/33\n", "config: [server] trusted_proxies:"),
    ("[server]\nhttp = :1\nmax_connections_per_address = -1\n",
     "config: [server] max_connections_per_address: at least 0"),
    ("[server]\nhttp = :1\n[store]\nbackend = mysql\n",
     "config: [store] backend: memory or redis, not 'mysql'"),
    ("[server]\nhttp = :1\n[store]\nmax_reads = 0\n", "config: [store] max_reads: at least 1"),
    ("[server]\nhttp = :1\n[store]\nlifetime = x\n", "config: [store] lifetime: not a number"),
    ("[server]\nhttp = :1\n[limits]\nget = fast\n", "config: [limits] get: 'fast' is not COUNT/SECONDS"),
    ("[server]\nhttp = :1\n[limits]\nmiss = 5/0\n", "config: [limits] miss: '5/0': COUNT >= 0"),
    ("[server]\nhttp = :1\n[turn]\nuris = turn:x\n", "config: [turn] uris need secret or secret_file"),
])
def test_bad_values_name_the_key(text, message):
    with pytest.raises(ValueError) as e:
        Config(text)
    assert str(e.value).startswith(message), str(e.value)
