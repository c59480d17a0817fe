"""The status stream on stdout (``"status": "-"``) read through a pipe whose reader stalls (a
supervisor stuck, a ``| less`` left on a page): a full pipe must cost status lines only (counted,
logged once), never the box's loop, which also carries every call's media. On both interpreters,
with a real pipe that nobody reads, bounded in time."""
import json
import subprocess

import pytest

from hostenv import interpreter, stop_process

SCRIPT = r"""
import sys
from zerotap import status
from zerotap.runtime import box
st = status.BoxStatus()
logs = []
s = box.StatusStream("-", "T", logs.append)
st.listen(s)
for i in range(2000):  # some 600 KB of status lines: far more than a pipe holds (64 KiB)
    st.set_public("192.0.2.1:%d" % (1024 + i))
sys.stderr.write("turned on: %d lines not written; %s\n" % (s.failed, "|".join(logs)))
"""


@pytest.mark.parametrize("name", ["cpython", "micropython"])
def test_a_stalled_reader_of_the_status_stream_costs_lines_never_the_loop(name, tmp_path):
    command, env = interpreter(name)
    proc = subprocess.Popen(command + ["-c", SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("%s: the status stream's write blocked on the full pipe: the loop stopped"
                        % name)
        err = proc.stderr.read().decode()
        assert proc.returncode == 0, err
        failed = int(err.split("turned on: ")[1].split()[0])
        assert 0 < failed < 2000, err
        assert err.count("status: cannot write -") == 1, err  # logged once
        # what did go out is whole lines, each one JSON (the reader reads them at last)
        lines = proc.stdout.read().decode().splitlines()
        assert len(lines) == 2000 - failed, (len(lines), failed)
        for line in lines:
            assert json.loads(line)["box"] == "T"
    finally:
        stop_process(proc)
        proc.stdout.close()
        proc.stderr.close()
