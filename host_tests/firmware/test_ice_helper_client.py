"""The helper's HTTP/1.1 client, sans-IO (zerotap.ice.helper_client): URLs, request bytes, and
responses with Content-Length, chunked bodies (RFC 9112 section 7.1) or a body up to the close,
fed whole or a byte at a time; every malformed or oversized answer is refused by name."""
from support import raises

from zerotap.ice import helper_client as hc


def test_urls():
    u = hc.parse_url("https://helper.example.org/ice/")
    assert (u.scheme, u.host, u.port, u.path, u.tls) == ("https", "helper.example.org", 443,
                                                          "/ice", True)
    u = hc.parse_url("http://127.0.0.1:9090")
    assert (u.host, u.port, u.path, u.tls) == ("127.0.0.1", 9090, "", False)
    u = hc.parse_url("https://[2001:db8::1]:8443/")
    assert (u.host, u.port, u.path) == ("2001:db8::1", 8443, "")
    raises(lambda: hc.parse_url("ftp://x"), "http: url 'ftp://x' must start with https:// "
                                            "(or http://)")
    raises(lambda: hc.parse_url("https://:443/"), "http: url 'https://:443/' has no host")
    raises(lambda: hc.parse_url("https://h:99999/"), "http: url 'https://h:99999/' has a bad port")
    raises(lambda: hc.parse_url("https://u@h/"), "http: url 'https://u@h/' must not carry user "
                                                 "info")


def test_request_bytes():
    u = hc.parse_url("https://helper.test:8443/ice")
    data = hc.request(u, "PUT", "/", b'{"a": 1}', [("Content-Type", "application/json")])
    head, body = data.split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"PUT /ice/ HTTP/1.1" and b"Host: helper.test:8443" in lines
    assert b"Content-Length: 8" in lines and b"Connection: close" in lines and body == b'{"a": 1}'
    data = hc.request(hc.parse_url("https://helper.test"), "GET", "/123?wait=2")
    assert data.startswith(b"GET /123?wait=2 HTTP/1.1\r\nHost: helper.test\r\n")
    assert b"Content-Length" not in data
    raises(lambda: hc.request(u, "GET", "x"), "http: path 'x' must start with /")
    raises(lambda: hc.request(u, "GET", "/", None, [("X-a", "b\r\nEvil: 1")]),
           "http: header 'X-a' is not a single line")


RESP = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n"
        b"Cache-Control: no-cache\r\n\r\n{\"id\": \"12\"}\n")
CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;ext=1\r\n{\"id\"\r\n8\r\n: \"12\"}\n\r\n0\r\nX-Trailer: 1\r\n\r\n")


def _feed(data, step):
    p = hc.ResponseParser()
    for i in range(0, len(data), step):
        p.feed(data[i:i + step])
    return p


def test_responses_whole_and_byte_by_byte():
    for data in (RESP, CHUNKED):
        for step in (len(data), 1, 7):
            p = _feed(data, step)
            assert p.done and p.status == 200 and p.reason == "OK", (data, step)
            assert p.body == b'{"id": "12"}\n'
    p = _feed(RESP, 5)
    assert p.headers["content-type"] == "application/json"
    # no length: the body ends when the server closes
    p = hc.ResponseParser()
    p.feed(b"HTTP/1.1 404 Not Found\r\n\r\n{\"error\"")
    assert not p.done
    p.feed(b": 1}")
    p.eof()
    assert p.done and p.status == 404 and p.body == b'{"error": 1}'
    p = hc.ResponseParser()
    p.feed(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert p.done and p.body == b""


def test_bad_and_oversized_responses_are_refused_by_name():
    cases = (
        (b"HTTP/2 200 OK\r\n\r\n", "http: bad status line 'HTTP/2 200 OK'"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "http: bad status code '2x0'"),
        (b"HTTP/1.1 200 OK\r\nBad header\r\n\r\n", "http: bad header line 'Bad header'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "http: bad Content-Length 'x'"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         "http: two different Content-Length values"),
        # one field with a list of values (RFC 9110 section 8.6): that differ, the framing is
        # invalid (RFC 9112 section 6.3); before, the first was taken and "{}" was the answer
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 20\r\n\r\n{}",
         "http: two different Content-Length values"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 3\r\n\r\n{}",
         "http: two different Content-Length values"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n",
         "http: body of 70000 bytes, at most 65536"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
         "http: Transfer-Encoding 'gzip' not supported"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
         "http: bad chunk size b'zz'"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY",
         "http: chunk not followed by CRLF"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab", "http: 1 bytes after the end of "
                                                          "the response"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 9000, "http: headers longer than 8192 bytes"),
    )
    for data, text in cases:
        p = hc.ResponseParser()
        raises(lambda: p.feed(data), text)
    p = hc.ResponseParser(max_body=10)
    raises(lambda: p.feed(b"HTTP/1.1 200 OK\r\n\r\n" + b"a" * 11), "http: body longer than 10 "
                                                                      "bytes")
    p = hc.ResponseParser()
    p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
    raises(p.eof, "http: connection closed in the middle of the body")
    p = hc.ResponseParser()
    raises(p.eof, "http: connection closed before the status line")


def test_interim_1xx_responses_before_the_answer_are_skipped():
    # RFC 9110 section 15.2: a client MUST parse 1xx responses that come before the final one,
    # even unasked. "100 Continue" was taken for the whole answer, and the real one after it
    # refused: "http: 96 bytes after the end of the response"
    data = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload"
            b"\r\n\r\n" + RESP)
    for step in (len(data), 1, 7):
        p = _feed(data, step)
        assert p.done and p.status == 200 and p.reason == "OK", step
        assert p.body == b'{"id": "12"}\n' and "link" not in p.headers


def test_bytes_over_0x7f_in_the_reason_or_a_value_are_read_not_refused():
    # RFC 9112 sections 4 and 5.5: a reason phrase and a field value may hold obs-text (a Latin-1
    # proxy: "Zugriff verweigert", "caf\xe9"). Decoding the head as UTF-8 refused the answer with
    # UnicodeError, whose message is empty on MicroPython: the box showed "helper: " and no cause
    data = (b"HTTP/1.1 403 Zugriff verweigert \xfc\r\nX-Note: caf\xe9\r\nContent-Length: 2\r\n\r\n"
            b"{}")
    for step in (len(data), 1):
        p = _feed(data, step)
        assert p.done and p.status == 403 and p.body == b"{}"
        assert p.reason.startswith("Zugriff verweigert ") and p.headers["x-note"].startswith("caf")
