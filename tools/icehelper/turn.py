"""TURN credentials for coturn's REST scheme (``use-auth-secret``, coturn's README.turnserver).

``username = "<expiry epoch seconds>:<user>"`` and ``password = base64(HMAC-SHA1(secret,
username))``. coturn checks the expiry on every authenticated request, Refreshes included, so an
allocation dies at the expiry: the lifetime must cover the longest call.
"""
import binascii
import hmac
import time

# HMAC-SHA1 keyed with a secret, made once per secret: each credential copies it (OpenSSL copies
# the keyed state) instead of setting the key up again, a third of the one-shot hmac.digest().
_KEYED = {}


def _keyed(secret):
    keyed = _KEYED.get(secret)
    if keyed is None:
        if len(_KEYED) >= 8:  # a server has one secret; tests may use a few
            _KEYED.clear()
        keyed = hmac.new(secret.encode(), digestmod="sha1")
        # hmac.HMAC wraps OpenSSL's HMAC object (``_hmac``) in Python; copy, update and digest
        # of the C object itself cost half as much. A Python without it keeps the wrapper.
        keyed = _KEYED[secret] = getattr(keyed, "_hmac", None) or keyed
    return keyed


def credentials(secret, user, ttl, now=None):
    """``(username, password)`` valid for TTL seconds from NOW (epoch seconds)."""
    expiry = int(time.time() if now is None else now) + int(ttl)
    username = "%d:%s" % (expiry, user)
    mac = _keyed(secret).copy()
    mac.update(username.encode())
    return username, binascii.b2a_base64(mac.digest(), newline=False).decode()


def batch_minter(secret, ttl):
    """``mint_all(users, now) -> [credentials(secret, user, ttl, now) for user in users]`` in one
    loop (the server mints a batch of PUT replies ahead, see server.Tickets)."""
    keyed, ttl, b64 = _keyed(secret), int(ttl), binascii.b2a_base64

    def mint_all(users, now):
        expiry = int(now) + ttl
        out = []
        for user in users:
            username = "%d:%s" % (expiry, user)
            mac = keyed.copy()
            mac.update(username.encode())
            out.append((username, b64(mac.digest(), newline=False).decode()))
        return out
    return mint_all
