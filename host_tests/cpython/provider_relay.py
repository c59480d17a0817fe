"""The provider's media anchor for the fallback lab (run inside the lab's "internet" namespace):
two UDP sockets, one per site; what one side sends goes to the other side's latched address
(symmetric RTP, as an SBC does). The ZRTP filter is an nftables rule in front of it, not here.

    python provider_relay.py IP_A PORT_A IP_B PORT_B SECONDS LOGFILE

LOGFILE gets one JSON line per datagram relayed: [epoch, side, length, first two bytes hex].
"""
import json
import select
import socket
import sys
import time


def main(argv):
    ip_a, port_a, ip_b, port_b, seconds, logfile = argv
    socks = []
    for ip, port in ((ip_a, int(port_a)), (ip_b, int(port_b))):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, port))
        socks.append(s)
    latched = [None, None]
    end = time.monotonic() + float(seconds)
    with open(logfile, "w") as log:
        while time.monotonic() < end:
            r, _, _ = select.select(socks, [], [], 0.2)
            for s in r:
                data, src = s.recvfrom(4096)
                side = socks.index(s)
                latched[side] = src
                log.write(json.dumps([time.time(), side, len(data), data[:2].hex()]) + "\n")
                if latched[1 - side] is not None:
                    socks[1 - side].sendto(data, latched[1 - side])
            log.flush()


main(sys.argv[1:])
