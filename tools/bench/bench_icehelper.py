"""ICE helper server throughput and latency, against a bare aiohttp handler in the same run.

The load generator is wrk (C, one thread, 64 connections, keep-alive), in its own process, so that
the client eats as little of the machine as possible. Every figure is requests/s with p50 and p99
latency and the servers' CPU time per request; runs of the systems compared against each other are
interleaved so that the host's changes of speed fall on each alike.

- Anchor: a bare aiohttp handler answering a constant (aiohttp's low-level server, as the helper
  uses it): the framework's ceiling on this machine, plain and TLS.
- PUT (a ZSipOs-shaped offer, 4 candidates) and GET (of 1000 stored offers) on the memory and the
  Redis store (a redis-server started here), plain and TLS; two front ends on one Redis (two wrk
  processes, 32 connections each) as a figure: this machine has 2 cores for everything.
- The same with 100,000 live offers stored as with an empty store (1000 offers for the GETs).

The machine is shared: 2 cores on a cloud host whose speed changes by +-40 % from one second to the
next (a fixed CPU loop, timed in chunks, shows it), with nothing else running on the machine.
Wall-clock requests/s follow those swings. So the throughput targets compare what a request costs
in CPU time of the servers (the scheduler's nanosecond count, every thread, from /proc), with
Redis's own CPU counted on the helper's side: the capacity ratio helper/anchor is anchor CPU per
request / helper CPU per request, and the same for the 100,000-offer comparisons (empty or small
store / full store).

How the ratios are taken (paired()): PAIRS rounds (default 40); in each round every side of the
comparison runs once for 1 s, back to back, so that both see nearly the same second of the host;
the order turns by one side each round and runs backwards every other round (no side always
first or always after another); each round gives one ratio, and the target is judged on the
median of the rounds' ratios (quartiles printed). Until the sixth round each side's least CPU
per request of 3-5 runs of 3 s was compared: that rule over 20 runs put a second, identical
anchor process at 1.21 of the anchor, too coarse for a 10 % target; paired medians of 16-20
rounds put it at 0.93-1.07, and the resolution grows with the number of rounds. Every run
measures that control: a second anchor process paired against the anchor, beside the helper, in
the same rounds (CONTROL lines); when its median is off by more than 5 %, the run says that the
host moved too much to judge the targets.

Why this is fair to both sides: the anchor gets the same requests from the same wrk script (it
reads the same body; its answer is a constant of the PUT reply's size without TURN), runs on the
same aiohttp server class, and /proc's CPU time holds the kernel's work for the sockets on both
sides. The memory store's PUTs against the anchor, and the empty store of the 100,000-offer PUT,
go to a process restarted each round and warmed up for one second (unmeasured) so that a cold
process does not count: offers live an hour here, and a store that took every PUT of the run
would hold several hundred thousand by the end, which is the 100,000-offer target's matter, not
the work per request (such a store costs about 5 % more per PUT, the 100,000-offer ratio
says; the first run of this design let the store grow from 110,000 to 390,000 offers during the
rounds). The Redis one of the 100,000-offer PUT is its database flushed. The full store keeps
growing by the PUTs of the rounds (the live count after is printed).

Figures beside the targets: every case (TLS and two front ends too) runs REPEAT times SECONDS,
interleaved; the medians of those runs' req/s, p50, p99 and CPU per request are printed, and the
p99 targets are judged on them. p99 is wall-clock by nature: with 64 clients each waiting for its
answer, latency is about 64 times the wall time per request, so it follows the host's speed
directly (the anchor's p99 is printed beside).

Targets: memory >= 50 % of the anchor, Redis >= 35 %, p99 <= 20 ms at 64 clients, and with
100,000 live offers the same throughput within 10 %. Limits are off, offers live an hour and may be
read without end here, so that the bench measures the path, not the brakes.
"""
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 3
REPEAT = 3
PAIRS = int(os.environ.get("BENCH_ICEHELPER_PAIRS", "40"))  # paired rounds per target
PAIR_SECONDS = 1
CONTROL = 0.05  # the anchor against a second anchor process must come out within 5 %
CONNS = 64
FILL = 100000
TARGET_MEMORY, TARGET_REDIS, TARGET_P99_MS, TARGET_SCALE = 0.50, 0.35, 20.0, 0.10

OFFER = {"ufrag": "Ab3dEf9h", "pwd": "pWd0123456789abcdefghijk", "candidates": [
    {"foundation": "Hc0a80a05", "prio": 2130706431, "compid": 1, "addr": "192.168.10.5:20012",
     "default": False, "type": 0},
    {"foundation": "S5db8d3a1", "prio": 1694498815, "compid": 1, "addr": "93.184.211.161:20012",
     "default": False, "type": 1},
    {"foundation": "R5db8d3a2", "prio": 16777215, "compid": 1, "addr": "93.184.211.162:49152",
     "default": True, "type": 3},
    {"foundation": "Hc0a80a05", "prio": 2130706430, "compid": 2, "addr": "192.168.10.5:20013",
     "default": True, "type": 0}]}

ANCHOR = r'''
import asyncio, ssl, sys
from aiohttp import web
BODY = b'{"id": "1234567890", "token": "abcdefghijklmnopqrstuvwxyzabcdef"}'
async def handle(request):
    await request.read()
    return web.Response(body=BODY, content_type="application/json")
async def main():
    runner = web.ServerRunner(web.Server(handle, access_log=None), handle_signals=True)
    await runner.setup()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1]), backlog=1024).start()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[2]), backlog=1024, ssl_context=ctx).start()
    await asyncio.Event().wait()
asyncio.run(main())
'''


def tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("bench: a server on port %d did not start" % port)


def stop(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def make_cert(folder):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


class Server:
    """A helper (or, with no backend, the anchor) process with a plain and a TLS port."""

    def __init__(self, folder, prefix, cert, key, backend=None, redis_url=None):
        self.name, self.folder, self.prefix = folder.name, folder, prefix
        self.port, self.tls_port = tcp_port(), tcp_port()
        self.cert, self.key, self.backend, self.redis_url = cert, key, backend, redis_url
        self.proc = None

    def start(self):
        log = open(self.folder / "server.log", "ab")
        if self.backend is None:
            cmd = [sys.executable, "-c", ANCHOR, str(self.port), str(self.tls_port),
                   str(self.cert), str(self.key)]
        else:
            conf = self.folder / "icehelper.conf"
            conf.write_text("\n".join([
                "[server]", "http = 127.0.0.1:%d" % self.port,
                "https = 127.0.0.1:%d" % self.tls_port, "cert = %s" % self.cert,
                "key = %s" % self.key, "log_level = warning",
                # wrk's connections from 127.0.0.1 stand for many boxes, as [limits] are off:
                # no cap per address (a new round's connections would meet the last round's
                # not yet closed and be reset)
                "max_connections_per_address = 0",
                "[store]", "backend = %s" % self.backend, "redis_url = %s" % self.redis_url,
                "redis_prefix = %s:" % self.prefix, "lifetime = 3600", "max_offers = 1000000",
                "max_reads = 1000000000",
                "[limits]", "put = 0/1", "post = 0/1", "get = 0/1", "miss = 0/1",
                "[turn]", "secret = bench-secret", "uris = turn:127.0.0.1:3478"]) + "\n")
            cmd = [sys.executable, str(ROOT / "tools/icehelper"), "--config", str(conf)]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_port(self.port, self.proc)
        return self

    def url(self, tls=False):
        return ("https://127.0.0.1:%d" % self.tls_port) if tls else \
            ("http://127.0.0.1:%d" % self.port)

    def health(self):
        with urllib.request.urlopen(self.url() + "/healthz", timeout=10) as r:
            return json.loads(r.read())

    def rss_mb(self):
        for line in Path("/proc/%d/status" % self.proc.pid).read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


def put_offers(server, n):
    ids = []
    body = json.dumps(OFFER).encode()
    for _ in range(n):
        req = urllib.request.Request(server.url() + "/", data=body, method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            ids.append(json.loads(r.read())["id"])
    return ids


def scripts(folder, ids):
    put = folder / "put.lua"
    put.write_text('wrk.method = "PUT"\nwrk.body = %s\nwrk.headers["Content-Type"] = '
                   '"application/json"\n' % json.dumps(json.dumps(OFFER)))
    get = folder / "get.lua"
    get.write_text("local ids = {%s}\nrequest = function()\n  return wrk.format(\"GET\", \"/\" .. "
                   "ids[math.random(#ids)])\nend\n" % ",".join('"%s"' % i for i in ids))
    return {"PUT": put, "GET": get}


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk_start(url, script, conns, seconds):
    return subprocess.Popen([WRK, "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency",
                             "-s", str(script), url], stdout=subprocess.PIPE, text=True)


def cpu_seconds(pids):
    """CPU time of the processes PIDS so far, every thread of each: the scheduler's own
    nanosecond count (/proc/PID/task/TID/schedstat), not the 10 ms ticks of /proc/PID/stat."""
    total = 0
    for pid in pids:
        for task in Path("/proc/%d/task" % pid).iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass  # a thread that ended between the listing and the read
    return total / 1e9


def wrk_result(proc):
    out = proc.communicate(timeout=120)[0]
    if proc.returncode != 0:
        raise SystemExit("bench: wrk failed:\n" + out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise SystemExit("bench: %s answers were not 2xx:\n%s" % (bad.group(1), out))
    errors = re.search(r"Socket errors: (.*)", out)
    if errors:
        raise SystemExit("bench: socket errors: %s" % errors.group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    count = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    return rps, p50, p99, count


def measure(targets, pids, seconds=SECONDS):
    """TARGETS: one (url, script) or several run together (their rates add, the worst p99).
    PIDS: the server processes whose CPU time the requests cost.
    -> (req/s, p50 ms, p99 ms, server CPU us per request)"""
    cpu0 = cpu_seconds(pids)
    procs = [wrk_start(url, script, CONNS // len(targets), seconds) for url, script in targets]
    results = [wrk_result(p) for p in procs]
    cpu = cpu_seconds(pids) - cpu0
    count = sum(r[3] for r in results)
    return (sum(r[0] for r in results), max(r[1] for r in results), max(r[2] for r in results),
            1e6 * cpu / max(count, 1))


def interleaved(cases, repeat=REPEAT):
    """CASES: {label: (targets, pids, before)}: REPEAT rounds, each case once per round (BEFORE,
    when given, runs first). Of each case: the median of its runs' req/s, p50, p99 and CPU per
    request (figures; the capacity targets come from paired(), the p99 targets from here)."""
    runs = {label: [] for label in cases}
    for _ in range(repeat):
        for label, (targets, pids, before) in cases.items():
            if before:
                before()
            runs[label].append(measure(targets, pids()))
    return {label: tuple(statistics.median(x[i] for x in r) for i in range(4))
            for label, r in runs.items()}


def paired(cases, rounds=PAIRS):
    """CASES: {label: (targets, pids, before)}, the first the reference. ROUNDS rounds of one run
    of PAIR_SECONDS per case, back to back; the order turns by one case each round and runs
    backwards every other round, so that no case always follows another or comes first. Each
    round gives, for every other case, the ratio reference CPU per request / its CPU per request
    (and the same of wall req/s the other way round). -> {label: (CPU ratios, wall ratios)}."""
    labels = list(cases)
    ratios = {label: ([], []) for label in labels[1:]}
    for i in range(rounds):
        order = labels[i % len(labels):] + labels[:i % len(labels)]
        if i % 2:
            order.reverse()
        got = {}
        for label in order:
            targets, pids, before = cases[label]
            if before:
                before()
            got[label] = measure(targets, pids(), PAIR_SECONDS)
        ref = got[labels[0]]
        for label in labels[1:]:
            ratios[label][0].append(ref[3] / got[label][3])
            ratios[label][1].append(got[label][0] / ref[0])
    return ratios


def spread(values):
    """Median, first and third quartile."""
    q = statistics.quantiles(values, n=4, method="inclusive")
    return statistics.median(values), q[0], q[2]


def line(label, r):
    print("  %-40s %7.0f req/s  p50 %6.2f ms  p99 %7.2f ms  CPU %6.1f us/req"
          % (label, r[0], r[1], r[2], r[3]), flush=True)


def target(text, ok):
    print("TARGET %s %s" % (text, "met" if ok else "MISSED"), flush=True)


def main():
    global WRK
    WRK = shutil.which("wrk")
    redis_bin = shutil.which("redis-server")
    if not WRK or not redis_bin:
        raise SystemExit("bench: needs wrk and redis-server (tools/debian-packages.txt)")
    import redis as redis_client
    tmp = Path(tempfile.mkdtemp(prefix="bench_icehelper."))
    procs = []
    try:
        cert, key = make_cert(tmp)
        rport = tcp_port()
        redis = subprocess.Popen([redis_bin, "--port", str(rport), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        procs.append(redis)
        wait_port(rport, redis)

        def server(name, backend=None, db=0):
            folder = tmp / name
            folder.mkdir(exist_ok=True)
            s = Server(folder, name.rstrip("2"), cert, key, backend,
                       "redis://127.0.0.1:%d/%d" % (rport, db)).start()
            procs.append(s.proc)
            return s

        anchor = server("anchor")
        anchor2 = server("anchor2")  # the control: an anchor measured against the anchor
        mem = server("mem", "memory")
        red = server("red", "redis")
        red2 = server("red2", "redis")  # a second front end: the same prefix, the same offers
        sc = {s.name: scripts(tmp / s.name, put_offers(s, 1000)) for s in (mem, red)}
        print("wrk, 1 thread, %d connections; figures: medians of %d x %d s; capacity targets: "
              "medians of %d paired rounds of %d s per case; cores: %d"
              % (CONNS, REPEAT, SECONDS, PAIRS, PAIR_SECONDS, os.cpu_count()), flush=True)

        def cost(*servers, with_redis=False):
            return lambda: [x.proc.pid for x in servers] + ([redis.pid] if with_redis else [])

        # Figures (req/s, latency, CPU per request) of every case, and the p99 targets.
        results = {}
        for tls in (False, True):
            tag = " TLS" if tls else ""
            for method in ("PUT", "GET"):
                cases = {
                    "anchor%s %s" % (tag, method): (
                        [(anchor.url(tls), sc["mem"][method])], cost(anchor), None),
                    "memory %s%s" % (method, tag): (
                        [(mem.url(tls), sc["mem"][method])], cost(mem), None),
                    "redis %s%s" % (method, tag): (
                        [(red.url(tls), sc["red"][method])], cost(red, with_redis=True), None),
                }
                if not tls:
                    cases["redis %s two front ends" % method] = (
                        [(red.url(), sc["red"][method]), (red2.url(), sc["red"][method])],
                        cost(red, red2, with_redis=True), None)
                got = interleaved(cases)
                for label, r in got.items():
                    line(label, r)
                results.update(got)

        def restarted(server):
            """Before a round: SERVER (a memory store) restarted, so that it is empty."""
            def before():
                stop(server.proc)
                procs.remove(server.proc)
                server.start()
                procs.append(server.proc)
                # a fresh process pays for its first requests (memory from the kernel, first
                # calls); the processes it is compared with are warm: warm this one too (1 s,
                # ~7,000 offers, not measured), so that the comparison is of the work per request
                measure([(server.url(), sc["mem"]["PUT"])], [], seconds=1)
            return before

        # The capacity targets: paired rounds against the anchor, with the control beside. The
        # memory store's PUTs go to a store restarted each round (offers live an hour here, and
        # 40 rounds would add ~300,000 of them: the store's size is the 100,000-offer target's
        # matter); its GETs read the 1000 offers of the one the figures used.
        memput = server("memput", "memory")
        capacity = {}
        for method in ("PUT", "GET"):
            memory = mem if method == "GET" else memput
            got = paired({
                "anchor": ([(anchor.url(), sc["mem"][method])], cost(anchor), None),
                "control": ([(anchor2.url(), sc["mem"][method])], cost(anchor2), None),
                "memory": ([(memory.url(), sc["mem"][method])], cost(memory),
                           restarted(memput) if method == "PUT" else None),
                "redis": ([(red.url(), sc["red"][method])], cost(red, with_redis=True), None),
            })
            for label, (cpu, wall) in got.items():
                capacity[(label, method)] = (spread(cpu), spread(wall))
                print("  paired %s %s / anchor: capacity %.2f (quartiles %.2f-%.2f), wall req/s "
                      "%.2f" % ((label, method) + capacity[(label, method)][0]
                                + capacity[(label, method)][1][:1]), flush=True)

        # 100,000 live offers against a store holding only the 1000 offers that the GETs read
        # (and, for the PUTs, an empty one: restarted, or its Redis database flushed, each round).
        print("filling stores to %d live offers ..." % FILL, flush=True)
        small = {"mem": server("memsmall", "memory"), "red": server("redsmall", "redis", db=1)}
        full = {"mem": server("memfull", "memory"), "red": server("redfull", "redis", db=2)}
        for name in ("mem", "red"):
            sc[name + "small"] = scripts(tmp / small[name].name, put_offers(small[name], 1000))
            s = full[name]
            sc[name + "full"] = scripts(tmp / s.name, put_offers(s, 1000))
            deadline = time.monotonic() + 300
            while s.health()["live"] < FILL and time.monotonic() < deadline:
                measure([(s.url(), sc["mem"]["PUT"])], [], seconds=4)
                time.sleep(1.2)  # the Redis store's live count is its sweeper's, once a second
            live = s.health()["live"]
            print("  %s: %d live offers, server RSS %.0f MB (%s with 1000: %.0f MB)"
                  % (s.name, live, s.rss_mb(), small[name].name, small[name].rss_mb()),
                  flush=True)
            if live < FILL:
                raise SystemExit("bench: could not fill %s to %d offers" % (s.name, FILL))

        def emptied(name):
            if name == "mem":
                return restarted(small[name])
            return lambda: redis_client.Redis(port=rport, db=1).flushdb()

        scale = {}
        for name, backend in (("mem", "memory"), ("red", "redis")):
            for method in ("GET", "PUT"):
                got = paired({
                    "small": ([(small[name].url(), sc[name + "small"][method])],
                              cost(small[name], with_redis=name == "red"),
                              emptied(name) if method == "PUT" else None),
                    "full": ([(full[name].url(), sc[name + "full"][method])],
                             cost(full[name], with_redis=name == "red"), None),
                })
                cpu, wall = got["full"]
                scale[(backend, method)] = (spread(cpu), spread(wall))
                print("  paired %s %s, %dk offers / %s: capacity %.2f (quartiles %.2f-%.2f), "
                      "wall req/s %.2f; live offers after: %d"
                      % ((backend, method, FILL // 1000, "1000" if method == "GET" else "empty")
                         + scale[(backend, method)][0] + scale[(backend, method)][1][:1]
                         + (full[name].health()["live"],)), flush=True)

        print(flush=True)
        control = {m: capacity[("control", m)][0] for m in ("PUT", "GET")}
        for method in ("PUT", "GET"):
            c = control[method]
            print("CONTROL anchor %s against a second anchor process, paired: %.2f (quartiles "
                  "%.2f-%.2f); %s" % ((method,) + c + (
                      "the run resolves the targets" if abs(c[0] - 1) <= CONTROL else
                      "OFF BY MORE THAN %.0f %%: the host moved too much in this run to judge "
                      "the targets" % (100 * CONTROL),)), flush=True)
        for method in ("PUT", "GET"):
            a = results["anchor %s" % method]
            at = results["anchor TLS %s" % method]
            for backend, goal in (("memory", TARGET_MEMORY), ("redis", TARGET_REDIS)):
                (ratio, q1, q3), wall = capacity[(backend, method)]
                r = results["%s %s" % (backend, method)]
                target("%s %s capacity / anchor: %.0f%% (paired median, quartiles %.0f-%.0f%%; "
                       "CPU per request%s; wall req/s %.0f%%) (target >= %.0f%%)"
                       % (backend, method, 100 * ratio, 100 * q1, 100 * q3,
                          ", Redis's included" if backend == "redis" else "", 100 * wall[0],
                          100 * goal), ratio >= goal)
                print("  figure: %s %s, medians of %d runs: %.0f vs %.0f CPU us per request, "
                      "wall %.0f vs %.0f req/s" % (backend, method, REPEAT, r[3], a[3], r[0],
                                                   a[0]))
                rt = results["%s %s TLS" % (backend, method)]
                print("  figure: %s %s TLS capacity / anchor TLS: %.0f%% (%.0f vs %.0f CPU us; "
                      "wall %.0f vs %.0f req/s)" % (backend, method, 100 * at[3] / rt[3], rt[3],
                                                    at[3], rt[0], at[0]))
            one, two = results["redis %s" % method], results["redis %s two front ends" % method]
            print("  figure: redis %s, two front ends: %.0f req/s (one: %.0f), %.0f CPU us per "
                  "request (one: %.0f)" % (method, two[0], one[0], two[3], one[3]))
        for backend in ("memory", "redis"):
            for method in ("PUT", "GET"):
                p99 = results["%s %s" % (backend, method)][2]
                target("%s %s p99 at %d clients: %.2f ms (median of %d runs; target <= %.0f ms; "
                       "anchor %.2f ms)" % (backend, method, CONNS, p99, REPEAT, TARGET_P99_MS,
                                            results["anchor %s" % method][2]),
                       p99 <= TARGET_P99_MS)
        for (backend, method), ((ratio, q1, q3), wall) in scale.items():
            target("%s %s capacity with %dk live offers / with %s: %.2f (paired median, quartiles "
                   "%.2f-%.2f; wall req/s %.2f) (target >= %.2f)"
                   % (backend, method, FILL // 1000, "1000" if method == "GET" else "none", ratio,
                      q1, q3, wall[0], 1 - TARGET_SCALE), ratio >= 1 - TARGET_SCALE)
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
