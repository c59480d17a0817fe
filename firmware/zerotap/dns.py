"""A small sans-IO DNS client (RFC 1035): queries out, answers in, a cache by TTL.

    q = dns.make_query("example.test", dns.SRV, rand)   # rand(n) -> n random bytes (injected)
    q.data                                            # the datagram to send to the resolver
    msg = dns.parse(answer)                           # a Message; ValueError on anything malformed
    records = q.check(msg)                            # id, QR, question (0x20 case) all checked

    client = dns.Client([("192.0.2.53", 53)], rand)   # queries, retransmissions, the cache
    client.lookup("_sip._udp.example.test", dns.SRV, now_ms)  # an Answer, or None while pending
    client.datagrams()                                # [(bytes, (host, port))] to send now
    client.receive(datagram, src, now_ms)
    client.timer() / client.handle_timer(now_ms)      # retransmit, then the next server, then fail

Records are ``Record(name, rtype, ttl, value)`` with ``value``: A and AAAA a text address
("192.0.2.1", "2001:db8::1"), CNAME/NS/PTR a name, SRV ``(priority, weight, port, target)``,
NAPTR ``(order, preference, flags, services, regexp, replacement)`` (flags, services and regexp as
text), anything else the raw rdata bytes. Names are text without the final dot.

Safety (an answer comes from the network):
  - every length is checked before a slice; a compression pointer must point backwards, at most
    ``MAX_POINTERS`` of them per name, a name at most 255 bytes (RFC 1035 §2.3.4, §4.1.4);
  - the answer must carry the query's id and question with the same letter case: the query's
    name has its letters' case randomised (draft-vixie-dnsext-dns0x20), so that a blind spoofer
    must guess 16 bits of id plus one bit per letter;
  - errors are ``ValueError`` with a precise text (``dns: ...``).
An EDNS0 OPT record (RFC 6891) offers a 1232-byte UDP payload, so that SRV and NAPTR answers
are rarely truncated; a truncated answer (TC) is not used (there is no DNS over TCP here): the
next server is asked, and after the last one the lookup fails saying so.
"""
A = 1
NS = 2
CNAME = 5
SOA = 6
PTR = 12
AAAA = 28
SRV = 33
NAPTR = 35
OPT = 41
CLASS_IN = 1

TYPE_NAMES = {A: "A", NS: "NS", CNAME: "CNAME", SOA: "SOA", PTR: "PTR", AAAA: "AAAA", SRV: "SRV",
              NAPTR: "NAPTR", OPT: "OPT"}

NOERROR = 0
SERVFAIL = 2
NXDOMAIN = 3

HEADER_LEN = 12
MAX_NAME = 255  # RFC 1035 §2.3.4, wire form
MAX_LABEL = 63
MAX_POINTERS = 16  # compression pointers followed in one name
MAX_RECORDS = 64  # records per section that we read; more is refused
EDNS_PAYLOAD = 1232

# Client timing: each server gets TRIES queries RETRY_MS apart, then the next server (at once
# after a server error: SERVFAIL, REFUSED)
RETRY_MS = 1000
TRIES = 2
NEGATIVE_TTL_S = 30  # when a negative answer carries no SOA (RFC 2308 says use SOA minimum)
FAILURE_TTL_S = 5  # SERVFAIL or no answer: remembered briefly, then asked again
MAX_TTL_S = 86400
# RFC 1035 3.2.1: a TTL of 0 still serves "the transaction in progress": here a whole RFC 3263
# walk (NAPTR, then SRV, then A, each up to TRIES * RETRY_MS per server). An answer kept for less
# than the walk takes expired before its last lookup came back, and the walk began again, for
# ever, behind a resolver 500 ms away
MIN_TTL_S = 30
NEGATIVE_MAX_TTL_S = 10800  # RFC 2308 section 5: "one to three hours have been found to work well"
CACHE_MAX = 64
_TC = "dns: answer truncated (TC): too large for UDP"


def type_name(rtype):
    return TYPE_NAMES.get(rtype, "TYPE%d" % rtype)


class Record:
    def __init__(self, name, rtype, ttl, value):
        self.name = name
        self.rtype = rtype
        self.ttl = ttl
        self.value = value

    def __repr__(self):
        return "<%s %s %d %r>" % (type_name(self.rtype), self.name, self.ttl, self.value)


class Message:
    """A parsed DNS message."""

    def __init__(self):
        self.id = 0
        self.flags = 0
        self.questions = []  # [(name, qtype, qclass)]
        self.answers = []
        self.authority = []
        self.additional = []

    @property
    def is_response(self):
        return bool(self.flags & 0x8000)

    @property
    def truncated(self):
        return bool(self.flags & 0x0200)

    @property
    def rcode(self):
        return self.flags & 0x000F


# --- names ------------------------------------------------------------------------------------
def _lower(name):
    return name.lower()


def encode_name(name):
    """NAME (text, with or without the final dot) in wire form, no compression."""
    if name.endswith("."):
        name = name[:-1]
    out = bytearray()
    if name:
        for label in name.split("."):
            b = label.encode()
            if not b:
                raise ValueError("dns: empty label in %r" % name)
            if len(b) > MAX_LABEL:
                raise ValueError("dns: label longer than 63 bytes in %r" % name)
            out.append(len(b))
            out += b
    out.append(0)
    if len(out) > MAX_NAME:
        raise ValueError("dns: name longer than 255 bytes: %r" % name)
    return bytes(out)


def read_name(data, offset):
    """(name, offset after it) for the name at OFFSET of DATA, following compression pointers."""
    labels = []
    pos = offset
    end = None  # where the name ends in the record, once a pointer was followed
    jumps = 0
    wire = 0
    floor = offset  # a pointer must point before the name part that holds it
    n = len(data)
    while True:
        if pos >= n:
            raise ValueError("dns: name runs past the end at offset %d" % pos)
        length = data[pos]
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 2 > n:
                raise ValueError("dns: compression pointer cut at offset %d" % pos)
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if target >= floor:
                raise ValueError("dns: compression pointer at offset %d points forward to %d"
                                 % (pos, target))
            jumps += 1
            if jumps > MAX_POINTERS:
                raise ValueError("dns: more than %d compression pointers in a name" % MAX_POINTERS)
            if end is None:
                end = pos + 2
            pos = target
            floor = target
            continue
        if kind != 0:
            raise ValueError("dns: label type 0x%02x at offset %d" % (kind, pos))
        if length == 0:
            wire += 1
            if wire > MAX_NAME:
                raise ValueError("dns: name longer than 255 bytes at offset %d" % offset)
            if end is None:
                end = pos + 1
            break
        if pos + 1 + length > n:
            raise ValueError("dns: label runs past the end at offset %d" % pos)
        wire += 1 + length
        if wire > MAX_NAME:
            raise ValueError("dns: name longer than 255 bytes at offset %d" % offset)
        labels.append(bytes(data[pos + 1:pos + 1 + length]).decode())
        pos += 1 + length
    return ".".join(labels), end


# --- building queries -------------------------------------------------------------------------
def mix_case(name, bits):
    """NAME with the case of each letter set from the bits of BITS (bytes), one bit per letter
    (0x20 randomisation)."""
    out = []
    i = 0
    for ch in name:
        if "a" <= ch <= "z" or "A" <= ch <= "Z":
            bit = (bits[(i >> 3) % len(bits)] >> (i & 7)) & 1 if bits else 0
            out.append(ch.upper() if bit else ch.lower())
            i += 1
        else:
            out.append(ch)
    return "".join(out)


def _u16(v):
    return bytes(((v >> 8) & 0xFF, v & 0xFF))


def _u32(v):
    return bytes(((v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF))


def build_query(qid, name, qtype, edns=True):
    """A standard query (RD set) for NAME (exactly as given: the caller chose its case)."""
    out = bytearray(_u16(qid & 0xFFFF))
    out += b"\x01\x00"  # RD
    out += _u16(1) + _u16(0) + _u16(0) + _u16(1 if edns else 0)
    out += encode_name(name) + _u16(qtype) + _u16(CLASS_IN)
    if edns:  # OPT: root name, type 41, class = payload size, ttl 0, no rdata (RFC 6891 §6.1.2)
        out += b"\x00" + _u16(OPT) + _u16(EDNS_PAYLOAD) + _u32(0) + _u16(0)
    return bytes(out)


class Query:
    """One question on the wire: its id and the case-mixed name that the answer must repeat."""

    def __init__(self, qid, name, qtype, wire_name):
        self.id = qid
        self.name = name  # lower case, as the cache keys it
        self.qtype = qtype
        self.wire_name = wire_name
        self.data = build_query(qid, wire_name, qtype)

    def check(self, msg, aliases=None):
        """The answer section's records for this query's name (the CNAME chain followed) from
        MSG, a parsed answer to it; the CNAME records followed are appended to ALIASES (a list).
        Raises ValueError when MSG is not the answer to it."""
        if not msg.is_response:
            raise ValueError("dns: not a response (QR is 0)")
        if msg.id != self.id:
            raise ValueError("dns: answer id 0x%04x does not match query 0x%04x"
                             % (msg.id, self.id))
        if len(msg.questions) != 1:
            raise ValueError("dns: answer has %d questions, want 1" % len(msg.questions))
        qname, qtype, qclass = msg.questions[0]
        if qtype != self.qtype or qclass != CLASS_IN:
            raise ValueError("dns: answer is for type %s, want %s" % (type_name(qtype),
                                                                      type_name(self.qtype)))
        if qname != self.wire_name:
            if _lower(qname) == self.name:
                raise ValueError("dns: answer's question differs in letter case (0x20)")
            raise ValueError("dns: answer is for %r, want %r" % (qname, self.wire_name))
        if msg.truncated:
            raise ValueError(_TC)
        return records_for(msg, self.name, self.qtype, aliases)


def records_for(msg, name, qtype, aliases=None):
    """The records of type QTYPE for NAME in MSG's answer section, following CNAMEs that the
    same answer holds (at most 8); each CNAME followed is appended to ALIASES (a list) when
    given: the answer holds only as long as they do."""
    want = _lower(name)
    for _ in range(8):
        out = [r for r in msg.answers if r.rtype == qtype and _lower(r.name) == want]
        if out:
            return out
        alias = [r for r in msg.answers if r.rtype == CNAME and _lower(r.name) == want]
        if not alias:
            return []
        if aliases is not None:
            aliases.append(alias[0])
        want = _lower(alias[0].value)
    return []


def make_query(name, qtype, rand):
    """A :class:`Query` for NAME with a random id and random letter case from RAND(n)."""
    name = _lower(name[:-1] if name.endswith(".") else name)
    r = rand(2)
    letters = sum(1 for ch in name if "a" <= ch <= "z")
    bits = rand((letters + 7) // 8) if letters else b""
    return Query((r[0] << 8) | r[1], name, qtype, mix_case(name, bits))


# --- parsing answers --------------------------------------------------------------------------
def _take16(data, pos):
    return (data[pos] << 8) | data[pos + 1]


def _text(rdata, pos, what):
    """A <character-string> (RFC 1035 §3.3) at POS of RDATA: (text, next pos)."""
    if pos >= len(rdata):
        raise ValueError("dns: NAPTR %s missing" % what)
    n = rdata[pos]
    if pos + 1 + n > len(rdata):
        raise ValueError("dns: NAPTR %s runs past the rdata" % what)
    return bytes(rdata[pos + 1:pos + 1 + n]).decode(), pos + 1 + n


def format_ipv6(b):
    """16 bytes as RFC 5952 text (the longest run of two or more zero groups shortened)."""
    groups = [(b[i] << 8) | b[i + 1] for i in range(0, 16, 2)]
    best, best_len, i = -1, 1, 0
    while i < 8:
        if groups[i] == 0:
            j = i
            while j < 8 and groups[j] == 0:
                j += 1
            if j - i > best_len:
                best, best_len = i, j - i
            i = j
        else:
            i += 1
    if best < 0:
        return ":".join("%x" % g for g in groups)
    left = ":".join("%x" % g for g in groups[:best])
    right = ":".join("%x" % g for g in groups[best + best_len:])
    return left + "::" + right


def _rdata(data, rtype, start, length):
    rdata = data[start:start + length]
    if rtype == A:
        if length != 4:
            raise ValueError("dns: A rdata length %d (want 4)" % length)
        return "%d.%d.%d.%d" % (rdata[0], rdata[1], rdata[2], rdata[3])
    if rtype == AAAA:
        if length != 16:
            raise ValueError("dns: AAAA rdata length %d (want 16)" % length)
        return format_ipv6(rdata)
    if rtype in (CNAME, NS, PTR):
        name, end = read_name(data, start)
        if end != start + length:
            raise ValueError("dns: %s rdata length %d does not match its name"
                             % (type_name(rtype), length))
        return name
    if rtype == SRV:
        if length < 7:
            raise ValueError("dns: SRV rdata length %d (want at least 7)" % length)
        target, end = read_name(data, start + 6)
        if end != start + length:
            raise ValueError("dns: SRV rdata length %d does not match its target" % length)
        return (_take16(data, start), _take16(data, start + 2), _take16(data, start + 4), target)
    if rtype == NAPTR:
        if length < 7:
            raise ValueError("dns: NAPTR rdata length %d (want at least 7)" % length)
        order, pref = _take16(rdata, 0), _take16(rdata, 2)
        flags, pos = _text(rdata, 4, "flags")
        services, pos = _text(rdata, pos, "services")
        regexp, pos = _text(rdata, pos, "regexp")
        replacement, end = read_name(data, start + pos)
        if end != start + length:
            raise ValueError("dns: NAPTR rdata length %d does not match its replacement" % length)
        return (order, pref, flags, services, regexp, replacement)
    return bytes(rdata)


def _section(data, pos, count, out):
    n = len(data)
    for _ in range(count):
        name, pos = read_name(data, pos)
        if pos + 10 > n:
            raise ValueError("dns: record header cut at offset %d" % pos)
        rtype = _take16(data, pos)
        rclass = _take16(data, pos + 2)
        ttl = (data[pos + 4] << 24) | (data[pos + 5] << 16) | (data[pos + 6] << 8) | data[pos + 7]
        if ttl & 0x80000000:  # RFC 2181 §8: a TTL with the top bit set is zero
            ttl = 0
        length = _take16(data, pos + 8)
        pos += 10
        if pos + length > n:
            raise ValueError("dns: %s rdata runs past the end at offset %d" % (type_name(rtype),
                                                                               pos))
        if rtype == OPT:
            value = bytes(data[pos:pos + length])
        elif rclass != CLASS_IN:
            value = bytes(data[pos:pos + length])
        else:
            value = _rdata(data, rtype, pos, length)
        out.append(Record(name, rtype, ttl, value))
        pos += length
    return pos


def parse(data):
    """A :class:`Message` from DATA (bytes). Raises ValueError on anything malformed."""
    if len(data) < HEADER_LEN:
        raise ValueError("dns: message shorter than its header (%d bytes)" % len(data))
    msg = Message()
    msg.id = _take16(data, 0)
    msg.flags = _take16(data, 2)
    counts = [_take16(data, 4 + 2 * i) for i in range(4)]
    if counts[0] > 4 or counts[1] > MAX_RECORDS or counts[2] > MAX_RECORDS or \
            counts[3] > MAX_RECORDS:
        raise ValueError("dns: too many records (%d/%d/%d/%d)" % tuple(counts))
    pos = HEADER_LEN
    for _ in range(counts[0]):
        name, pos = read_name(data, pos)
        if pos + 4 > len(data):
            raise ValueError("dns: question cut at offset %d" % pos)
        msg.questions.append((name, _take16(data, pos), _take16(data, pos + 2)))
        pos += 4
    pos = _section(data, pos, counts[1], msg.answers)
    pos = _section(data, pos, counts[2], msg.authority)
    pos = _section(data, pos, counts[3], msg.additional)
    if pos != len(data):
        raise ValueError("dns: %d bytes after the last record" % (len(data) - pos))
    return msg


def negative_ttl(msg):
    """How long a negative answer may be cached (RFC 2308 §5: the SOA's minimum, capped by the
    SOA record's own TTL and by NEGATIVE_MAX_TTL_S), or NEGATIVE_TTL_S without an SOA."""
    for r in msg.authority:
        if r.rtype == SOA and isinstance(r.value, bytes) and len(r.value) >= 4:
            v = r.value
            minimum = (v[-4] << 24) | (v[-3] << 16) | (v[-2] << 8) | v[-1]
            return min(minimum, r.ttl, NEGATIVE_MAX_TTL_S)
    return NEGATIVE_TTL_S


# --- the client -------------------------------------------------------------------------------
class Answer:
    """What the cache holds for one (name, type): RECORDS (possibly empty: the name or type does
    not exist), or ERROR (text: the resolver failed or did not answer), until EXPIRES (ms)."""

    def __init__(self, records, expires, error=None):
        self.records = records
        self.expires = expires
        self.error = error

    def __repr__(self):
        return "<Answer %r error=%r>" % (self.records, self.error)


class _Pending:
    def __init__(self, query, now_ms):
        self.query = query
        self.server = 0
        self.tries = 0
        self.next_at = now_ms


class Client:
    """Queries toward SERVERS [(host, port)], in order; a cache by TTL; RAND(n) -> bytes."""

    def __init__(self, servers, rand, log=None):
        if not servers:
            raise ValueError("dns: no resolver configured")
        self.servers = list(servers)
        self.rand = rand
        self.log = log or (lambda text: None)
        self.cache = {}  # (name, type) -> Answer
        self.pending = {}  # (name, type) -> _Pending
        self._out = []
        self.refused = 0  # datagrams that were not a valid answer to a pending query

    def use(self, servers):
        """Ask SERVERS from now on (the network changed); a pending query goes to the first of
        them at its next try."""
        if servers and servers != self.servers:
            self.servers = list(servers)
            for p in self.pending.values():
                p.server = 0
                p.tries = 0

    def cached(self, name, qtype, now_ms):
        key = (_lower(name.rstrip(".")), qtype)
        a = self.cache.get(key)
        if a is not None and a.expires <= now_ms:
            del self.cache[key]
            a = None
        return a

    def lookup(self, name, qtype, now_ms):
        """The cached :class:`Answer` for NAME/QTYPE, or None after starting (or while waiting
        for) a query; a failed Answer (not cached) for a name no question can carry."""
        a = self.cached(name, qtype, now_ms)
        if a is not None:
            return a
        key = (_lower(name.rstrip(".")), qtype)
        if key not in self.pending:
            try:
                q = make_query(key[0], qtype, self.rand)
            except ValueError as e:  # a label over 63 bytes, an empty one: no question to ask
                return Answer([], now_ms, str(e))
            p = _Pending(q, now_ms)
            self.pending[key] = p
            self._transmit(p, now_ms)
        return None

    def _transmit(self, p, now_ms):
        self._out.append((p.query.data, self.servers[p.server]))
        p.tries += 1
        p.next_at = now_ms + RETRY_MS * p.tries

    def datagrams(self):
        out, self._out = self._out, []
        return out

    def timer(self):
        if not self.pending:
            return None
        return min(p.next_at for p in self.pending.values())

    def handle_timer(self, now_ms):
        for key in list(self.pending):
            p = self.pending[key]
            if p.next_at > now_ms:
                continue
            if p.tries >= TRIES:
                self._next(key, p, now_ms, "no answer from the resolver")
            else:
                self._transmit(p, now_ms)

    def _next(self, key, p, now_ms, error):
        """P's server failed with ERROR: the query goes to the next server with a new id and case
        (RFC 1034 5.3.3 step 4), or after the last one the lookup fails with ERROR."""
        p.server += 1
        p.tries = 0
        if p.server >= len(self.servers):
            del self.pending[key]
            self._store(key, Answer([], now_ms + FAILURE_TTL_S * 1000, error))
        else:
            p.query = make_query(key[0], key[1], self.rand)
            self._transmit(p, now_ms)

    def _store(self, key, answer):
        if len(self.cache) >= CACHE_MAX and key not in self.cache:
            oldest = min(self.cache, key=lambda k: self.cache[k].expires)
            del self.cache[oldest]
        self.cache[key] = answer

    def receive(self, data, src, now_ms):
        """A datagram from SRC. Returns the (name, type) it answered (a server error: asked
        again of the next server), or None when it answered nothing pending (malformed, spoofed,
        late: counted in ``refused`` and logged)."""
        try:
            msg = parse(data)
        except ValueError as e:
            self.refused += 1
            self.log("%s (from %s:%d)" % (e, src[0], src[1]))
            return None
        asked = None
        for key in list(self.pending):
            p = self.pending[key]
            if p.query.id != msg.id:
                continue
            if tuple(src) != tuple(self.servers[p.server]):
                asked = key[0], self.servers[p.server]
                continue
            aliases = []
            try:
                records = p.query.check(msg, aliases)
            except ValueError as e:
                self.log("%s (from %s:%d)" % (e, src[0], src[1]))
                if e.args[0] == _TC:  # truncated again if asked again, and no TCP here
                    self._next(key, p, now_ms, _TC[5:])
                    return key
                self.refused += 1
                return None
            rcode = msg.rcode
            if rcode != NOERROR and rcode != NXDOMAIN:  # SERVFAIL, REFUSED: the next server
                self._next(key, p, now_ms, "resolver answered rcode %d" % rcode)
                return key
            del self.pending[key]
            if records:
                # through CNAMEs, the answer lasts as long as the shortest link of the chain
                ttl = min(min(r.ttl for r in records + aliases), MAX_TTL_S)
            else:
                ttl = negative_ttl(msg)
            self._store(key, Answer(records, now_ms + 1000 * max(ttl, MIN_TTL_S)))
            return key
        self.refused += 1
        if asked is not None:  # a resolver answering from another of its addresses, or a spoof
            self.log("dns: answer for %s from %s:%d, not from the server asked (%s:%d): not taken"
                     % (asked[0], src[0], src[1], asked[1][0], asked[1][1]))
        return None
