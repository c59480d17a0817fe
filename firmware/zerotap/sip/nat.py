"""The box behind NAT, on the network side, sans-IO: its public address and keeping the mapping.

    nat = Nat(("10.0.0.2", 5080), keepalive_ms=20000, rand=os.urandom)
    nat.learn_via(via)                  # our top Via in a REGISTER response: received and
                                        # rport (RFC 3581) say where the registrar saw us
    data = nat.stun_request(now_ms)     # a STUN Binding request (RFC 5389) for network.stun
    nat.stun_response(datagram)         # its answer: XOR-MAPPED-ADDRESS
    nat.public                          # (host, port) as seen from outside, or None
    nat.advertised()                    # what goes in Via, Contact, Record-Route and SDP
    nat.flow(dest, transport)           # the flow to keep open (the registrar's address)
    nat.timer() / nat.keepalives(now)   # [(bytes, dest)] CRLF CRLF on UDP every keepalive_ms

Only the network side gets the public address; the phone side keeps the box's LAN address.
Keepalives on UDP are CRLF CRLF (RFC 5626 §4.4.1 defines them for streams; registrars such as
Kamailio drop the four bytes on UDP as a keepalive, and the outgoing datagram refreshes the
router's mapping); on TCP/TLS the stream layer pings the connection itself.
"""
MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
ATTR_MAPPED_ADDRESS = 0x0001
ATTR_XOR_MAPPED_ADDRESS = 0x0020
KEEPALIVE = b"\r\n\r\n"
STUN_RETRY_MS = 1000  # RFC 5389 7.2.1: the RTO, doubled after each request
STUN_REQUESTS = 7  # Rc: then no more until the next attempt


def is_stun(data):
    """True for a STUN message (RFC 5389 §6: top two bits 0, the magic cookie at offset 4)."""
    return len(data) >= 20 and data[0] < 2 and data[4] == 0x21 and data[5] == 0x12 and \
        data[6] == 0xA4 and data[7] == 0x42


def binding_request(txid):
    if len(txid) != 12:
        raise ValueError("stun: transaction id must be 12 bytes")
    return bytes([0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42]) + bytes(txid)


def _address(value, xor, txid):
    if len(value) < 8:
        raise ValueError("stun: address attribute of %d bytes" % len(value))
    family = value[1]
    port = (value[2] << 8) | value[3]
    if xor:
        port ^= MAGIC_COOKIE >> 16
    if family == 1:
        if len(value) != 8:
            raise ValueError("stun: IPv4 address attribute of %d bytes" % len(value))
        raw = bytearray(value[4:8])
        if xor:
            for i in range(4):
                raw[i] ^= (MAGIC_COOKIE >> (24 - 8 * i)) & 0xFF
        return "%d.%d.%d.%d" % (raw[0], raw[1], raw[2], raw[3]), port
    if family == 2:
        if len(value) != 20:
            raise ValueError("stun: IPv6 address attribute of %d bytes" % len(value))
        raw = bytearray(value[4:20])
        if xor:
            key = bytes([0x21, 0x12, 0xA4, 0x42]) + bytes(txid)
            for i in range(16):
                raw[i] ^= key[i]
        from zerotap.dns import format_ipv6
        return format_ipv6(raw), port
    raise ValueError("stun: unknown address family %d" % family)


def binding_response(data, txid):
    """The mapped (host, port) of a Binding success response to TXID. ValueError otherwise."""
    if not is_stun(data):
        raise ValueError("stun: not a STUN message")
    mtype = (data[0] << 8) | data[1]
    length = (data[2] << 8) | data[3]
    if length + 20 != len(data) or length % 4:
        raise ValueError("stun: length %d does not match the datagram (%d bytes)"
                         % (length, len(data)))
    if bytes(data[8:20]) != bytes(txid):
        raise ValueError("stun: transaction id does not match")
    if mtype != BINDING_SUCCESS:
        raise ValueError("stun: not a Binding success response (type 0x%04x)" % mtype)
    pos = 20
    mapped = None
    while pos + 4 <= len(data):
        atype = (data[pos] << 8) | data[pos + 1]
        alen = (data[pos + 2] << 8) | data[pos + 3]
        if pos + 4 + alen > len(data):
            raise ValueError("stun: attribute 0x%04x runs past the end" % atype)
        value = data[pos + 4:pos + 4 + alen]
        if atype == ATTR_XOR_MAPPED_ADDRESS:
            return _address(value, True, txid)
        if atype == ATTR_MAPPED_ADDRESS:
            mapped = _address(value, False, txid)
        pos += 4 + ((alen + 3) & ~3)
    if mapped is None:
        raise ValueError("stun: no mapped address in the response")
    return mapped


class Nat:
    def __init__(self, local, keepalive_ms=None, stun=None, rand=None, log=None):
        self.local = local  # (host, port) of the network-side SIP socket as advertised locally
        self.keepalive_ms = keepalive_ms
        self.stun = stun  # (host, port) of a STUN server, or None
        self.rand = rand
        self.log = log or (lambda text: None)
        self.public = None
        self.source = None  # "rport" or "stun"
        self.flow_dest = None  # (host, port) where UDP keepalives go
        self.flow_transport = None
        self._next_keepalive = None
        self._stun_txid = None
        self._stun_at = None
        self._stun_n = 0  # requests sent in this attempt

    def advertised(self):
        return self.public or self.local

    def _set(self, addr, source):
        if addr == self.public:
            return False
        old = self.public
        self.public = addr
        self.source = source
        self.log("nat: public address %s:%d (from %s)%s" % (
            addr[0], addr[1], source, "" if old is None else ", was %s:%d" % old))
        return True

    def learn_via(self, via, transport="UDP"):
        """Our Via (a zerotap.sip.headers.Via) as the network returned it, in a response that
        came over TRANSPORT. True when the public address changed. Over TCP/TLS the source port
        is the connection's, never the box's SIP port: only the address counts there."""
        received = via.param("received")
        rport = via.param("rport")
        if not received:
            return False
        if transport != "UDP":
            if received == self.local[0]:
                return False
            port = self.public[1] if self.public and self.public[0] == received else \
                self.local[1]
            return self._set((received, port), "rport")
        port = int(rport) if rport and rport.isdigit() else self.local[1]
        if (received, port) == tuple(self.local):
            return False  # no NAT between us and the registrar
        return self._set((received, port), "rport")

    # --- STUN ---------------------------------------------------------------------------------
    def stun_request(self, now_ms):
        if self.stun is None or self.rand is None:
            return None
        self._stun_txid = bytes(self.rand(12))
        self._stun_at = now_ms
        self._stun_n = 1
        return binding_request(self._stun_txid)

    def stun_response(self, data):
        """A STUN datagram that arrived on the network-side SIP socket. True when it answered our
        request and the public address changed."""
        if self._stun_txid is None:
            return False
        try:
            mapped = binding_response(data, self._stun_txid)
        except ValueError as e:
            self.log("nat: %s" % e)
            return False
        self._stun_txid = None
        return self._set(mapped, "stun")

    # --- keepalive ----------------------------------------------------------------------------
    def flow(self, dest, transport, now_ms):
        """Requests go to DEST over TRANSPORT: that is the flow to keep open."""
        if dest != self.flow_dest or transport != self.flow_transport:
            self.flow_dest = dest
            self.flow_transport = transport
            if self.keepalive_ms and transport == "UDP":
                self._next_keepalive = now_ms + self.keepalive_ms
            else:
                self._next_keepalive = None

    def sent(self, now_ms):
        """Something went out on the flow: the next keepalive can wait."""
        if self._next_keepalive is not None:
            self._next_keepalive = now_ms + self.keepalive_ms

    def _stun_due(self):
        if self._stun_txid is None or self._stun_n >= STUN_REQUESTS:
            return None
        return self._stun_at + (STUN_RETRY_MS << (self._stun_n - 1))

    def timer(self):
        t = self._next_keepalive
        r = self._stun_due()
        if r is not None and (t is None or r < t):
            t = r
        return t

    def keepalives(self, now_ms):
        """[(bytes, dest)] due now: a keepalive on the flow, a STUN retry."""
        out = []
        if self._next_keepalive is not None and now_ms >= self._next_keepalive:
            out.append((KEEPALIVE, self.flow_dest))
            self._next_keepalive = now_ms + self.keepalive_ms
        r = self._stun_due()
        if r is not None and now_ms >= r:
            self._stun_at = now_ms
            self._stun_n += 1
            out.append((binding_request(self._stun_txid), self.stun))
        return out
