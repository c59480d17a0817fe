"""A small TLS (or TCP) SIP responder on loopback for stream tests, built on CPython's ``ssl``.

    srv = SipTlsServer(cert, key).start()   # srv.port; srv.stop()
    srv.mode = "answer" | "garbage" | "stall"
    srv.first_bytes                          # the first raw bytes of every connection (before TLS)
    srv.requests                             # every SIP request it read (whole bytes)

For every request it reads (framed by its own Content-Length, read here independently of
zerotap.sip.framing) it answers ``200 OK`` with the request's body echoed; in ``garbage`` mode
it answers with bytes that are no SIP message; in ``stall`` mode with a header promising more
body than it sends.
"""
import select
import socket
import ssl
import threading


def _read_message(conn, buf):
    while b"\r\n\r\n" not in buf:
        data = conn.recv(4096)
        if not data:
            return None, buf
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            length = int(value.strip())
    while len(rest) < length:
        data = conn.recv(4096)
        if not data:
            return None, buf
        rest += data
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


class SipTlsServer:
    def __init__(self, cert=None, key=None, host="127.0.0.1"):
        self.ctx = None
        if cert is not None:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.mode = "answer"
        self.first_bytes = []
        self.requests = []
        self.errors = []
        self._stop = False
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self):
        while not self._stop:
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if not r:
                continue
            conn, _ = self.sock.accept()
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        conn.settimeout(10)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            head = conn.recv(5, socket.MSG_PEEK)
            self.first_bytes.append(head)
            if self.ctx is not None:
                conn = self.ctx.wrap_socket(conn, server_side=True)
            buf = b""
            while True:
                msg, buf = _read_message(conn, buf)
                if msg is None:
                    return
                self.requests.append(msg)
                body = msg.split(b"\r\n\r\n", 1)[1]
                if self.mode == "garbage":
                    conn.sendall(b"\x00\x01 this is no SIP\r\n\r\n")
                elif self.mode == "stall":
                    conn.sendall(b"SIP/2.0 200 OK\r\nContent-Length: 100\r\n\r\nshort")
                else:
                    conn.sendall(b"SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\nContent-Length: %d\r\n"
                                 b"\r\n" % len(body) + body)
        except (OSError, ssl.SSLError) as e:
            self.errors.append(str(e))
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def stop(self):
        self._stop = True
        if self._thread is not None:
            self._thread.join(2)
        self.sock.close()
