"""From power-on to the running box: a board's ``main``, and the host's ``python -m zerotap run``.

A board's ``main.py`` is two lines::

    import board
    from zerotap.runtime.boot import main; main(board)

``board`` is the board's module (``boards/<name>/board.py``): ``NAME``, ``STORAGE``, ``LAN``, the
factories ``display(settings)`` and ``button()``, and the ``machine``, ``network`` and ``time``
modules it imported (read from it, so that tests pass stand-ins), and optionally ``noise()``
(bytes of the board's own noise, a floating ADC pin say). :func:`main` then:

0. starts the random source (:mod:`zerotap.crypto.drbg`: HMAC-DRBG seeded from ``os.urandom``,
   the native module's hardware source switched on for it, timing jitter and the board's noise)
   before anything else: before the network (the ESP32's bootloader entropy source must be off
   once Wi-Fi runs) and before any ZID or key exists (from here on nothing draws before it);
1. makes the status model and opens the storage on flash (``board.STORAGE``);
2. loads ``config.json`` with the last-good fallback (:mod:`zerotap.lastgood`): a refused config
   shows CONFIG ERROR naming the key, and the last good copy runs meanwhile. A config that parses
   but cannot start (a socket that cannot be bound: an address the board does not have, a port
   taken; a trust cache that cannot be opened) is refused the same way, once the network is up;
   a config becomes the last good copy only once the box started on it;
3. starts the display (the board's factory; without a panel the box runs all the same) and the
   button: the front panel (:mod:`zerotap.ui.frontpanel`);
4. brings the network up (Ethernet, then ``board.wifi``), retrying while there is none; the address
   it gets is advertised where ``phone.sip``/``network.sip`` bind the wildcard address;
5. opens the trust cache (``zrtp.cache``, relative to ``STORAGE``) and the key pool;
6. runs the box (:class:`zerotap.runtime.box.Box`): SIP, media, ZRTP, the status stream, the
   control, and the front panel ticking (dimming against burn-in) and the button polled (press:
   the shown call's SAS verified or not; hold: the next call). The box follows the interface
   (:class:`zerotap.runtime.link.NicLink`, read every second): a lost link shows NO NETWORK,
   a Wi-Fi station is asked to join again while it stays down, and when it is back (with a new
   DHCP address: the sockets bound to it) the phones' bindings are registered again.

Without a usable config (none, and no good copy) or when a socket cannot be bound, the display
and the button run alone, showing the error, until the board is reset.

A board never needs a power cycle (issue 14): a hardware watchdog (``machine.WDT``, started at
boot, :data:`WDT_TIMEOUT_MS`) is fed by the box's loop at every turn and by the waits before it,
so a hang resets the board; a fault in the loop itself (a call's faults end only that call, see
:meth:`zerotap.runtime.box.Box.call_fault`) is written to flash (:data:`RESET_NOTE`) and the board
resets. After the reset the reason (or "watchdog reset" when the watchdog fired) is logged and
shown as the box's warning.
"""
import sys

from zerotap import config as _config
from zerotap import lastgood
from zerotap import status as _status
from zerotap.runtime import udp

CONFIG = "config.json"
NETWORK_RETRY_MS = 30000
IDLE_POLL_MS = 25
WDT_TIMEOUT_MS = 60000  # longer than the network bring-up's longest wait (Ethernet, then Wi-Fi)
RESET_NOTE = "reset.txt"  # on flash: why the box reset itself, shown after the reset

_watchdog = None  # the board's machine.WDT while main runs


def _feed():
    if _watchdog is not None:
        _watchdog.feed()


def _log(text):
    sys.stderr.write("zerotap: %s\n" % text)


def _parse_board_config(text):
    return _config.loads(text, dhcp=True)


def _front(board, settings, status, now_ms):
    from zerotap.ui.button import Button
    from zerotap.ui.display import Display
    from zerotap.ui.frontpanel import FrontPanel
    from zerotap.ui.panels import MemoryPanel

    panel = None
    try:
        panel = board.display(settings)
    except (OSError, ImportError) as e:  # no panel wired, or no ssd1306 driver installed
        _log("display: %s" % (e,))
    if panel is None:
        panel = MemoryPanel(settings.display.width, settings.display.height)  # the status still runs
    display = Display(panel, status, dim_after_ms=settings.dim_after_s * 1000, now_ms=now_ms)
    pin = None
    try:
        pin = board.button()
    except (OSError, ValueError) as e:
        _log("button: %s" % (e,))
    return FrontPanel(display, pin, Button(hold_ms=settings.button.hold_ms))


def _tick(front, now_ms, log=None):
    """The front panel's turn before the box runs. A display that does not answer on its bus
    (the ssd1306 driver's OSError) is logged: the board goes on to run the box (the box's own
    turns of the panel do the same, Box._tick_front)."""
    try:
        front.handle_timer(now_ms)
    except OSError as e:
        (log or _log)("display: %s" % (e,))


def _idle(front, clock, for_ms, deadline, log=None):
    """Serve the display and the button alone for FOR_MS (or until DEADLINE, a clock value, when
    given). Returns False when DEADLINE passed."""
    end = clock() + for_ms
    while True:
        now = clock()
        if deadline is not None and now >= deadline:
            return False
        if now >= end:
            return True
        _feed()
        _tick(front, now, log)
        udp.sleep_ms(IDLE_POLL_MS)


def _halt(front, clock, deadline, log=None):
    """Show what is wrong until the board is reset (or DEADLINE, in tests)."""
    while _idle(front, clock, 60000, deadline, log):
        pass


def _resolve(board, cfg, ip):
    if cfg.phone.address is None:
        cfg.phone.address = ip
    if cfg.network.address is None:
        cfg.network.address = ip
    if not cfg.zrtp.cache.startswith("/"):
        cfg.zrtp.cache = board.STORAGE.rstrip("/") + "/" + cfg.zrtp.cache


def _unbindable(loop, cfg):
    """(key, message) for the first socket of CFG that cannot be bound (an address that is not
    this board's, a port taken: also by another of them, so all are held until the last),
    else None."""
    eps = []
    try:
        for key, host, port in (("phone.sip", cfg.phone.host, cfg.phone.port),
                                ("network.sip", cfg.network.host, cfg.network.port),
                                ("control", cfg.control[0], cfg.control[1])):
            try:
                eps.append(loop.open(host, port, None))
            except OSError as e:
                return key, "cannot bind %s:%d (%s)" % (host, port, e)
        return None
    finally:
        for ep in eps:
            loop.close(ep)


def _startable(loop, cfg, log, secure):
    """(refused, secure factory): REFUSED is None, or (key, message) for what of CFG keeps the box
    from starting on it: a socket that cannot be bound, a trust cache that cannot be opened."""
    refused = _unbindable(loop, cfg)
    if refused is not None:
        return refused, None
    try:
        return None, secure.factory(cfg, log)
    except OSError as e:  # the cache directory cannot be made
        return ("zrtp.cache", "cannot open %s (%s)" % (cfg.zrtp.cache, e)), None


# MicroPython's ESP32 builds do not reassemble IP fragments (docs/transports.md): no UDP datagram
# over one Ethernet frame's payload ever arrives on a board
BOARD_SIP_DATAGRAM = 1472


def _lease_dns(nic):
    """[(the resolver the interface's DHCP lease names, 53)], or []."""
    try:
        server = nic.ifconfig()[3]
    except (AttributeError, IndexError, OSError, TypeError):
        server = None
    return [(server, 53)] if server and server != "0.0.0.0" else []


def _transports(cfg, nic):
    """What a board adds to the transport settings: its SIP datagram limit, and the resolver that
    DHCP gave when the config names none (``network.dns``), read again with each new lease
    (``network.dns_source``, :meth:`zerotap.runtime.network.BoxNetwork.rebind`)."""
    cfg.network.max_datagram = BOARD_SIP_DATAGRAM
    if getattr(cfg.network, "dns", None) is None:
        cfg.network.dns = _lease_dns(nic) or None
        cfg.network.dns_source = lambda: _lease_dns(nic)


def main(board, loop=None, log=None, give_up_ms=None):
    """Run the box on BOARD until it is stopped (``control stop``, Ctrl-C on the console).

    LOOP and LOG replace the UDP loop and the log function (tests). GIVE_UP_MS bounds the waits
    for a config and for the network (tests); without it they last until the board is reset.
    Returns the Box after it stopped, or None when it never ran.

    A config saved from the web page (``box.restart``) starts it all again, in this loop, not by
    calling itself: the stopped box is no longer referenced while the next one runs (a frame per
    restart kept each old box, its trust cache and key pool on the heap: about 21 KB a restart
    on the unix port), and the watchdog started at power-on is the one the next box feeds.
    """
    global _watchdog
    _watchdog = start_watchdog(board.machine, log or _log)
    while True:
        box = _start(board, loop, log, give_up_ms)
        if box is None or not box.restart:
            return box
        box = None  # nothing of the old box while the next one runs
        loop = None  # a new loop for it, as at power-on


def _start(board, loop, log, give_up_ms):
    """One start of the box (:func:`main`): from the config to the box's loop stopping."""
    from zerotap import board as support
    from zerotap.crypto import drbg
    from zerotap.runtime import box as _box
    from zerotap.runtime import secure as _secure
    from zerotap.storage import Storage

    drbg.STRICT = True  # no key before the source is ready (issue 12)
    drbg.start(getattr(board, "noise", None))
    log = log or _log
    loop = loop or udp.Loop()
    clock = loop.clock
    deadline = None if give_up_ms is None else clock() + give_up_ms
    status = _status.BoxStatus()
    storage = Storage(board.STORAGE)
    machine = board.machine
    last = last_reset(machine, storage)
    if last is not None:
        log("last reset: %s" % last)
        status.set_warning("restarted: %s" % last)
    cfg, error = lastgood.load(storage, CONFIG, _parse_board_config, status, keep=False)
    if error is not None:
        log("config refused: %s: %s%s" % (error[0], error[1],
                                           "; the last good config runs" if cfg else ""))
    settings = cfg.board if cfg is not None else _config.BoardSettings()
    front = _front(board, settings, status, clock())
    _tick(front, clock(), log)  # ZeroTap starting... (or CONFIG ERROR)

    ip = None
    while ip is None:
        nic, ip = support.network_up(board.machine, board.network, board.time,
                                     getattr(board, "LAN", None), settings, status)
        _tick(front, clock(), log)
        if ip is None:
            log("network: no address; trying again in %d s" % (NETWORK_RETRY_MS // 1000))
            if not _idle(front, clock, NETWORK_RETRY_MS, deadline, log):
                return None
    log("network: %s" % ip)
    if cfg is None:
        _halt(front, clock, deadline, log)  # CONFIG ERROR until someone fixes it and resets
        return None

    _resolve(board, cfg, ip)
    refused, secure = _startable(loop, cfg, log, _secure)
    if refused is not None and error is None:
        # config.json parses but cannot start: refused as one that does not parse, the last
        # good copy (never this config: it is kept only once the box started on it) runs
        cfg = lastgood.fallback(storage, CONFIG, _parse_board_config, status, refused)
        log("config refused: %s: %s%s" % (refused[0], refused[1],
                                           "; the last good config runs" if cfg else ""))
        if cfg is not None:
            error = refused
            _resolve(board, cfg, ip)
            refused, secure = _startable(loop, cfg, log, _secure)
    if refused is not None:
        status.set_config_error(refused[0], refused[1])
        log("cannot start: %s: %s" % refused)
        _halt(front, clock, deadline, log)
        return None
    _transports(cfg, nic)
    box = _box.Box(cfg, loop=loop, log=log, name=board.NAME, secure_factory=secure,
                   status=status, front=front)
    box.watchdog = _watchdog
    if error is None:
        lastgood.started(storage, CONFIG)  # its sockets are bound: the new last good copy
    from zerotap.runtime.link import NicLink
    box.follow_link(NicLink(nic), address=ip)  # a Wi-Fi drop, a new DHCP address (issue 14)
    box.config_store = (storage, CONFIG)  # the web page saves here (docs/web.md)
    box.config_parser = _parse_board_config
    box.board_name = board.NAME
    box.wifi_board = hasattr(getattr(board, "network", None), "WLAN")
    try:
        box.run()
    except Exception as e:  # a fault in the loop itself: note it on flash, reset the board
        reset_after_fault(machine, storage, box.fault or "loop fault: %r" % (e,), log)
        raise
    return box  # box.restart: a config saved from the web page; main starts again with it


def start_watchdog(machine, log):
    """The board's hardware watchdog (``machine.WDT``), or None where there is none. Once
    started it cannot be stopped: the loop must feed it."""
    wdt = getattr(machine, "WDT", None)
    if wdt is None:
        return None
    try:
        return wdt(timeout=WDT_TIMEOUT_MS)
    except (OSError, ValueError, TypeError) as e:
        log("watchdog: %s" % (e,))
        return None


def last_reset(machine, storage):
    """Why the board last reset, or None after an ordinary power-on: the note a loop fault left
    on flash (read once, then removed), else the watchdog's reset cause."""
    try:
        note = storage.read(RESET_NOTE)
    except OSError:  # a damaged flash: the boot goes on without the reason
        note = None
    if note is not None:
        storage.remove(RESET_NOTE)
        return note.decode("utf-8", "replace") if hasattr(note, "decode") else str(note)
    cause = getattr(machine, "reset_cause", None)
    wdt_reset = getattr(machine, "WDT_RESET", None)
    if cause is not None and wdt_reset is not None:
        try:
            if cause() == wdt_reset:
                return "watchdog reset (the loop stopped turning)"
        except OSError:
            pass
    return None


def reset_after_fault(machine, storage, reason, log):
    """Write REASON to flash and reset the board (``machine.reset``); returns where there is no
    reset (the caller then lets the exception end the process)."""
    log("resetting: %s" % reason)
    try:
        storage.write(RESET_NOTE, reason.encode())
    except OSError as e:
        log("cannot note the reset reason: %s" % (e,))
    reset = getattr(machine, "reset", None)
    if reset is not None:
        reset()


def host_front_panel(cfg, status, title=None, out=None):
    """The host's front panel for ``python -m zerotap run``: the display drawn on OUT (stdout) when
    ``board.display.terminal`` is set, and written to ``board.display.png`` when that is set; None
    when neither is (the status stream alone). The button is the local control."""
    b = cfg.board
    if not b.host_display():
        return None
    from zerotap.ui.display import Display
    from zerotap.ui.frontpanel import FrontPanel
    from zerotap.ui.hostpanel import HostPanel

    d = b.display
    if d.terminal and out is None:
        out = sys.stdout
    panel = HostPanel(d.width, d.height, d.png, out if d.terminal else None, title)
    return FrontPanel(Display(panel, status, dim_after_ms=b.dim_after_s * 1000))
