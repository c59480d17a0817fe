"""Free loopback UDP ports for tests that run beside other engineers' tests on one machine.

The kernel picks a free port (bind to port 0); the socket is closed again and the number handed
out. A number handed out once is never handed out again by this process.
"""
import random
import socket
import threading

_lock = threading.Lock()
_given = set()


def _free(port, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
        return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()


def _free_tcp(port, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def udp_port():
    """One free UDP port on 127.0.0.1 whose TCP port is free too: servers such as dnsmasq,
    coturn and Kamailio listen on both, and a TCP port in use elsewhere stops them."""
    with _lock:
        for _ in range(200):
            p = _free(0)
            if p and p not in _given and p + 1 < 65536 and _free_tcp(p):
                _given.add(p)
                return p
    raise RuntimeError("no free UDP port")


def udp_pair():
    """An even port P such that P and P+1 are free (RTP and RTCP)."""
    with _lock:
        for _ in range(500):
            p = random.randrange(20000, 32000) & ~1
            if p in _given or p + 1 in _given:
                continue
            if _free(p) and _free(p + 1):
                _given.update((p, p + 1))
                return p
    raise RuntimeError("no free UDP port pair")


def udp_range(count):
    """LOW, HIGH: COUNT consecutive free UDP ports starting at an even port."""
    with _lock:
        for _ in range(500):
            low = random.randrange(20000, 32000 - count) & ~1
            span = range(low, low + count)
            if any(p in _given for p in span):
                continue
            if all(_free(p) for p in span):
                _given.update(span)
                return low, low + count - 1
    raise RuntimeError("no free UDP port range")
