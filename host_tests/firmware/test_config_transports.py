"""CONFIG.json's transport keys (docs/transports.md): network.transport, network.tls,
network.dns, network.stun, network.keepalive_s, phone.tcp; every refusal names its key."""
from support import config_refused
from zerotap import config


def _good(**network):
    net = {"sip": "127.0.0.1:5080", "rtp": "42000-42099"}
    net.update(network)
    return {"phone": {"sip": "127.0.0.1:5070", "allow": ["127.0.0.1"], "rtp": "40000-40099"},
            "network": net}


def test_defaults():
    cfg = config.parse(_good())
    assert cfg.network.transport == "UDP" and cfg.network.tls is None
    assert cfg.network.dns is None and cfg.network.stun is None
    assert cfg.network.keepalive_s == 25 and cfg.phone.tcp is True


def test_all_keys():
    cfg = config.parse(_good(proxy="sip.example.test", transport="tls",
                             tls={"ca": "/etc/zerotap/provider-ca.pem"},
                             dns=["192.0.2.53", "198.51.100.53:5353"], stun="192.0.2.9:3478",
                             keepalive_s=10))
    assert cfg.network.proxy == ("sip.example.test", None)
    assert cfg.network.transport == "TLS" and cfg.network.tls.ca == "/etc/zerotap/provider-ca.pem"
    assert cfg.network.tls.name is None
    assert cfg.network.dns == [("192.0.2.53", 53), ("198.51.100.53", 5353)]
    assert cfg.network.stun == ("192.0.2.9", 3478) and cfg.network.keepalive_s == 10
    cfg = config.parse(_good(proxy="192.0.2.10:5061", transport="TLS",
                             tls={"ca": "ca.pem", "name": "sip.example.test"}))
    assert cfg.network.proxy == ("192.0.2.10", 5061) and cfg.network.tls.name == "sip.example.test"
    obj = _good()
    obj["phone"]["tcp"] = False
    assert config.parse(obj).phone.tcp is False


def test_refusals_name_the_key():
    config_refused(_good(transport="sctp"), "network.transport",
                   "must be one of udp, tcp, tls, not 'sctp'")
    config_refused(_good(transport=5), "network.transport", "must be a string, not a number")
    config_refused(_good(transport="tls", proxy="sip.example.test"), "network.tls",
                   "missing: network.transport tls needs a CA (network.tls.ca)")
    config_refused(_good(transport="tls", proxy="192.0.2.1:5061", tls={"ca": "x.pem"}),
                   "network.tls.name", "missing: the provider's certificate name (no domain in "
                   "network.proxy to check it against)")
    config_refused(_good(tls={"name": "a.test"}), "network.tls.ca",
                   "missing: a CA bundle or pinned CA (PEM file)")
    config_refused(_good(tls={"ca": "x.pem", "pin": 1}), "network.tls.pin", "unknown key")
    config_refused(_good(tls={"ca": "x.pem", "name": "bad name"}), "network.tls.name",
                   "bad host name 'bad name'")
    config_refused(_good(dns=[]), "network.dns", "must not be empty")
    config_refused(_good(dns=["resolver"]), "network.dns[0]",
                   "bad address 'resolver': want host:port")
    config_refused(_good(stun="stun.example.test"), "network.stun",
                   "bad address 'stun.example.test': want host:port")
    config_refused(_good(keepalive_s=-1), "network.keepalive_s",
                   "must be between 0 and 3600, not -1")
    obj = _good()
    obj["phone"]["tcp"] = "yes"
    config_refused(obj, "phone.tcp", "must be true or false, not a string")
    config_refused(_good(proxy="bad_name!"), "network.proxy",
                   "bad address 'bad_name!': want host:port")


def test_a_board_takes_the_dhcp_resolver_and_its_datagram_limit():
    from zerotap.runtime import boot

    class Nic:
        def ifconfig(self):
            return ("192.168.1.20", "255.255.255.0", "192.168.1.1", "192.168.1.1")

    cfg = config.parse(_good())
    boot._transports(cfg, Nic())
    assert cfg.network.dns == [("192.168.1.1", 53)]
    assert cfg.network.max_datagram == boot.BOARD_SIP_DATAGRAM == 1472
    cfg = config.parse(_good(dns=["192.0.2.53"]))
    boot._transports(cfg, Nic())
    assert cfg.network.dns == [("192.0.2.53", 53)]  # the config's own wins
    cfg = config.parse(_good())
    boot._transports(cfg, object())  # a stand-in without ifconfig: no resolver, no error
    assert cfg.network.dns is None
