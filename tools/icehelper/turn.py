"""TURN credentials for coturn's REST scheme (``use-auth-secret``, coturn's README.turnserver).

``username = "<expiry epoch seconds>:<user>"`` and ``password = base64(HMAC-SHA1(secret,
username))``. coturn checks the expiry on every authenticated request, Refreshes included, so an
allocation dies at the expiry: the lifetime must cover the longest call.
"""
import base64
import hmac
import time


def credentials(secret, user, ttl, now=None):
    """``(username, password)`` valid for TTL seconds from NOW (epoch seconds)."""
    expiry = int(time.time() if now is None else now) + int(ttl)
    username = "%d:%s" % (expiry, user)
    mac = hmac.digest(secret.encode(), username.encode(), "sha1")
    return username, base64.b64encode(mac).decode()
