"""The ICE helper's config file: defaults, and a clear error naming the key for each bad value."""
import subprocess
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
    # a broken file, and values that used to stop the start with a traceback naming no key
    ("http = :1\n[server]\n", "config: line 1: no [section] before"),
    ("[server]\nhttp = :1\nhttp = :2\n", "config: line 3: [server] http given twice"),
    ("[server]\nhttp = :1\n[server]\n", "config: line 3: [server] given twice"),
    ("[server]\nhttp = :1\n  x\nnot a key\n", "config: line 4: not KEY = VALUE"),
    ("[server]\nhttp = 127.0.0.1:70000\n", "config: [server] http: port 70000 is not 1-65535"),
    ("[server]\nhttps = [::1]:0\ncert = c\nkey = k\n", "config: [server] https: port 0 is not"),
    ("[server]\nhttp = :1\nlog_level = loud\n",
     "config: [server] log_level: debug, info, warning or error, not 'loud'"),
    ("[server]\nhttp = :1\n[store]\nbackend = redis\nredis_url = http://x\n",
     "config: [store] redis_url: redis://, rediss:// or unix://, not 'http://x'"),
    ("[server]\nhttp = :1\n[turn]\nsecret_file = /nonexistent/s\n",
     "config: [turn] secret_file: cannot read /nonexistent/s"),
])
def test_bad_values_name_the_key(text, message):
    with pytest.raises(ValueError) as e:
        Config(text)
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize("text, message", [
    ("http = 127.0.0.1:1\n", "icehelper: config: line 1: no [section] before"),
    ("[server]\nhttps = 127.0.0.1:1\ncert = missing.pem\nkey = missing.key\n",
     "icehelper: config: [server] cert, key: cannot load them ("),
])
def test_the_service_stops_with_the_message_not_a_traceback(tmp_path, text, message):
    conf = tmp_path / "icehelper.conf"
    conf.write_text(text)
    run = subprocess.run([sys.executable, str(ROOT / "tools/icehelper"), "--config", str(conf)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and run.stderr.startswith(message), run.stderr
    assert "Traceback" not in run.stderr
