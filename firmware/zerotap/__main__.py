"""``python -m zerotap``: the box on a host (see USAGE)."""
import json
import sys

from zerotap import config

USAGE = """python -m zerotap: the box on a host.

    python -m zerotap run CONFIG.json [NAME]     run the box (NAME tags its status lines)
    python -m zerotap check CONFIG.json          validate a config and exit
    python -m zerotap control [-c CONFIG.json | --to HOST:PORT] verify|unverify CALL
    python -m zerotap control [...] status|stop

Under the MicroPython unix port: MICROPYPATH=firmware micropython -m zerotap run CONFIG.json
"""


def _control(args):
    import socket
    addr = config.parse_hostport("control", config.DEFAULT_CONTROL)
    while args and args[0] in ("-c", "--to"):
        if len(args) < 2:
            raise SystemExit(USAGE)
        if args[0] == "-c":
            addr = config.load(args[1]).control
        else:
            addr = config.parse_hostport("--to", args[1])
        args = args[2:]
    if not args:
        raise SystemExit(USAGE)
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(3)
    dest = socket.getaddrinfo(addr[0], addr[1], 0, socket.SOCK_DGRAM)[0][-1]
    try:
        s.sendto(" ".join(args).encode(), dest)
    except OSError as e:  # no route, a network that is down, a broadcast address
        s.close()
        print(json.dumps({"ok": False, "error": "cannot send to %s:%d: %s" % (addr + (e,))}))
        return 2
    try:
        data = s.recvfrom(65536)[0]
    except OSError:
        print(json.dumps({"ok": False, "error": "no answer from %s:%d" % addr}))
        return 2
    finally:
        s.close()
    print(data.decode())
    return 0 if json.loads(data).get("ok") else 1


def _run(args):
    if not args:
        raise SystemExit(USAGE)
    while True:
        cfg = config.load(args[0])
        b = _run_once(cfg, args)
        if getattr(b, "exit_code", 0):
            return b.exit_code  # a loop fault (issue 14)
        if not b.restart:  # the web page saved a config: start again with it (docs/web.md)
            return 0


def _run_once(cfg, args):
    from zerotap import status as _status
    from zerotap.runtime import boot as _boot
    from zerotap.runtime import box as _box
    from zerotap.runtime import secure as _secure
    from zerotap.storage import Storage
    from zerotap.runtime import udp as _udp
    name = args[1] if len(args) > 1 else None
    # what a board checks before its box starts (boot._startable): the sockets bind (not taken,
    # an address of this host) and the trust cache opens; then the status file opens
    loop = _udp.Loop()
    refused, secure = _boot._startable(loop, cfg, _box.stderr_log, _secure)
    if refused is not None:
        raise CannotStart("%s: %s" % refused)
    if cfg.status != "-":
        try:
            open(cfg.status, "a").close()
        except OSError as e:
            raise CannotStart("status: cannot open %s (%s)" % (cfg.status, e))
    status = _status.BoxStatus()
    front = _boot.host_front_panel(cfg, status, name)  # board.display.terminal / .png, or None
    try:
        b = _box.Box(cfg, loop=loop, name=name, secure_factory=secure, status=status, front=front)
    except OSError as e:  # a socket of its own (the phone side's TCP listener, the web page)
        raise CannotStart(str(e))
    b.faults = _getenv("ZEROTAP_FAULTS") == "1"  # the control's fault injection, for tests
    iface = getattr(cfg.network, "interface", None)
    if iface:  # follow the interface: link down, a new address (docs/appliance.md)
        from zerotap.runtime.link import HostLink
        b.follow_link(HostLink(iface, ipv6=":" in (cfg.network.address or "")))
    path = args[0]
    i = path.rfind("/")
    b.config_store = (Storage(path[:i] if i > 0 else ("/" if i == 0 else ".")), path[i + 1:])
    try:
        b.run()
    except Exception:  # a fault in the loop itself: exit non-zero, the service manager restarts
        b.exit_code = EXIT_LOOP_FAULT
        b.restart = False
    return b


EXIT_LOOP_FAULT = 70  # EX_SOFTWARE (sysexits.h); boards/host/zerotap.service restarts on it
EXIT_CANNOT_START = 1  # a port taken, an address not (yet) this host's: the service retries


class CannotStart(Exception):
    """The config is valid, but the box cannot start on this host now (see _run_once)."""


def _getenv(name):
    try:
        import os
    except ImportError:
        return None
    getenv = getattr(os, "getenv", None)
    if getenv is not None:
        return getenv(name)
    environ = getattr(os, "environ", None)
    return environ.get(name) if environ is not None else None


def main(argv):
    if not argv:
        print(USAGE)
        return 2
    cmd, args = argv[0], argv[1:]
    try:
        if cmd == "run":
            return _run(args)
        if cmd == "check":
            if not args:
                raise SystemExit(USAGE)
            config.load(args[0])
            print("config: ok")
            return 0
        if cmd == "control":
            return _control(args)
    except config.ConfigError as e:
        sys.stderr.write("zerotap: config refused: %s\n" % e)
        return 3
    except CannotStart as e:
        sys.stderr.write("zerotap: cannot start: %s\n" % e)
        return EXIT_CANNOT_START
    print(USAGE)
    return 2


sys.exit(main(sys.argv[1:]))
