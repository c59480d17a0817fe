"""One run of the box's helper client (zerotap.runtime.http over zerotap.runtime.stream), under
either interpreter (test_helper_http.py starts it).

    micropython helper_http_client.py URL ADDRESS CAFILE|- REQUESTS_FILE

REQUESTS_FILE holds JSON (the unix port dies on an argument over 255 bytes): a list of [method, path, body or null, {headers}]; "{id}" and "{token}" in a
path or header value are replaced by those of the first PUT's answer. Prints one JSON line: a
list of [status, body text] or ["failed", reason], in order.
"""
import json
import sys

from zerotap.runtime import http, stream, udp


def main(argv):
    url, address, cafile, reqs = argv[:4]
    with open(reqs) as f:
        reqs = json.loads(f.read())
    loop = udp.Loop()
    streams = stream.Streams(loop)
    ctx = stream.client_context(cafile=cafile) if cafile != "-" else None
    h = http.HelperHttp(streams, url, ctx=ctx, address=address, request_ms=4000)
    out = []
    ids = {}
    t0 = loop.clock()

    def fill(text):
        for k in ids:
            text = text.replace("{" + k + "}", ids[k])
        return text

    def step():
        if len(out) == len(reqs):
            loop.stop()
            return
        method, path, body, headers = reqs[len(out)]
        hdrs = [(k, fill(v)) for k, v in headers.items()]
        h.request(len(out), method, fill(path), None if body is None else body.encode(), hdrs,
                  on_reply, on_fail)

    def on_reply(tag, status, body, now):
        text = body.decode()
        if not ids and status == 200:
            try:
                obj = json.loads(text)
                ids["id"] = obj["id"]
                ids["token"] = obj["token"]
            except (ValueError, KeyError):
                pass
        out.append([status, text])
        step()

    def on_fail(tag, reason, now):
        out.append(["failed", reason])
        step()

    class Deadline:
        def timer(self):
            return t0 + 30000

        def handle_timer(self, now):
            out.append(["deadline"])
            loop.stop()
    step()
    loop.run(Deadline())
    h.close()
    streams.close_all()
    loop.close_all()
    print(json.dumps(out))


main(sys.argv[1:])
