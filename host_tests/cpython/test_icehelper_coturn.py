"""coturn (started here, with the secret the helper shares) allocates a relay with the credentials
that the helper minted, and refuses them once they expired or when the secret differs.

The Allocate client is small: aioice's STUN codec builds and parses the messages (an independent
implementation), the long-term credential steps are RFC 8656 section 7.2 (401 with REALM and
NONCE, then USERNAME, REALM, NONCE and MESSAGE-INTEGRITY with key MD5(user:realm:password)).
"""
import socket
import sys
import time

import pytest
from aioice import stun
from aioice.turn import make_integrity_key

from coturn import REALM, Coturn
from icehelper_proc import Helper

SECRET = "test-shared-secret-0123456789"
UDP = 17 << 24  # REQUESTED-TRANSPORT: UDP (RFC 8656 section 18.7)


def _transact(sock, addr, msg):
    sock.sendto(bytes(msg), addr)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            data, _ = sock.recvfrom(2048)
        except socket.timeout:
            sock.sendto(bytes(msg), addr)  # UDP: send again
            continue
        reply = stun.parse_message(data)
        if reply.transaction_id == msg.transaction_id:
            return reply
    raise AssertionError("no answer from coturn at %s:%d" % addr)


def allocate(addr, username, password, expect_realm=REALM):
    """Allocate a UDP relay: ``(True, relayed address)`` or ``(False, (code, reason))``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.5)
    try:
        first = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST,
                             attributes={"REQUESTED-TRANSPORT": UDP})
        reply = _transact(sock, addr, first)
        assert reply.message_class == stun.Class.ERROR and reply.error_code == 401, reply
        realm, nonce = reply.attributes["REALM"], reply.attributes["NONCE"]
        assert realm == expect_realm
        req = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST, attributes={
            "REQUESTED-TRANSPORT": UDP, "LIFETIME": 600, "USERNAME": username, "REALM": realm,
            "NONCE": nonce})
        key = make_integrity_key(username, realm, password)
        req.add_message_integrity(key)
        reply = _transact(sock, addr, req)
        if reply.message_class == stun.Class.RESPONSE:
            assert reply.check_message_integrity(key)
            # free the relay again (a Refresh with lifetime 0, RFC 8656 section 7.3)
            bye = stun.Message(stun.Method.REFRESH, stun.Class.REQUEST, attributes={
                "LIFETIME": 0, "USERNAME": username, "REALM": realm, "NONCE": nonce})
            bye.add_message_integrity(key)
            _transact(sock, addr, bye)
            return True, reply.attributes["XOR-RELAYED-ADDRESS"]
        return False, reply.attributes["ERROR-CODE"]
    finally:
        sock.close()


@pytest.fixture(scope="module")
def coturn():
    # the one coturn driver of the tests (coturn.py): free loopback ports, UDP only, stopped by PID
    with Coturn(secret=SECRET) as srv:
        yield srv.addr


def _minted(tmp_path, secret, ttl):
    h = Helper(tmp_path / ("h%d" % ttl), turn={"secret": secret, "ttl": str(ttl),
                                               "uris": "turn:127.0.0.1:3478?transport=udp"})
    h.start()
    try:
        status, body, _ = h.request("PUT", "/", {})
        assert status == 200
        return body["turn"]
    finally:
        h.stop()


def test_coturn_allocates_with_minted_credentials(coturn, tmp_path):
    creds = _minted(tmp_path, SECRET, 12 * 3600)
    ok, relayed = allocate(coturn, creds["username"], creds["password"])
    assert ok, relayed
    assert relayed[0] == "127.0.0.1"


def test_coturn_refuses_them_once_expired(coturn, tmp_path):
    creds = _minted(tmp_path, SECRET, 2)
    ok, relayed = allocate(coturn, creds["username"], creds["password"])
    assert ok, relayed  # still valid
    time.sleep(3.2)
    ok, error = allocate(coturn, creds["username"], creds["password"])
    assert not ok and error[0] == 401, error


def test_coturn_refuses_credentials_from_another_secret(coturn, tmp_path):
    creds = _minted(tmp_path, "some-other-secret", 3600)
    ok, error = allocate(coturn, creds["username"], creds["password"])
    assert not ok and error[0] == 401, error


def test_the_minted_password_is_hmac_sha1_of_the_username():
    # turn.credentials copies a keyed OpenSSL object (hmac.HMAC's private ``_hmac`` when there,
    # the wrapper otherwise): whichever it took, the password is the plain HMAC of the username
    import base64
    import hashlib
    import hmac
    import sys
    from hostenv import ROOT
    sys.path.insert(0, str(ROOT / "tools"))
    from icehelper import turn
    for secret in (SECRET, "another", "s" * 100):
        for user, now in (("box", 1000), ("", 0), ("123456789012", 1.7e9), ("ü x:y", 42.9)):
            username, password = turn.credentials(secret, user, 3600, now)
            assert username == "%d:%s" % (int(now) + 3600, user)
            want = base64.b64encode(hmac.new(secret.encode(), username.encode(),
                                             hashlib.sha1).digest()).decode()
            assert password == want, (secret, username)


def _tickets(ttl, secret=SECRET):
    from hostenv import ROOT
    sys.path.insert(0, str(ROOT / "tools"))
    from icehelper import server

    class Conf:
        turn_secret, turn_ttl, turn_uris = secret, ttl, ["turn:127.0.0.1:3478?transport=udp"]
    return server.Tickets(Conf)


def test_credentials_drawn_ahead_are_those_minted_when_handed_out():
    # the server mints PUT replies a batch at a time; whenever one is handed out, its credentials
    # are what turn.credentials gives at that moment: never from an earlier second, so never
    # shorter-lived than the TTL by a second or more
    import json
    import random
    tickets = _tickets(600)  # puts tools/ on the path
    from icehelper import store, turn
    rng = random.Random(5)
    now, seen = 1.7e9 + 0.25, set()
    for _ in range(4000):
        now += rng.choice([0.0, 0.0, 0.0001, 0.001, 0.01, 0.3, 0.7499, 1.0, 7.5])
        offer_id, hashed, body, token, second = tickets.take(now)
        reply = json.loads(body)
        assert reply["id"] == offer_id and reply["token"] == token and second == int(now)
        assert hashed == store.token_hash(token) and len(token) == 32
        creds = reply["turn"]
        assert (creds["username"], creds["password"]) == turn.credentials(SECRET, offer_id, 600,
                                                                          now)
        assert 599 < int(creds["username"].split(":")[0]) - now <= 600
        assert creds["ttl"] == 600 and creds["uris"] == ["turn:127.0.0.1:3478?transport=udp"]
        # each ticket handed out once: its token (32 letters) is never seen again; ids may repeat
        # by chance (the store draws again when one is taken: test_icehelper_memory.py)
        assert token not in seen and store.valid_id(offer_id)
        seen.add(token)


def test_replies_without_turn_have_id_and_token_only():
    import json
    tickets = _tickets(600, secret="")
    offer_id, _, body, token, _ = tickets.take(1000.5)
    assert json.loads(body) == {"id": offer_id, "token": token}
