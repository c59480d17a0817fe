"""`make bench`: run every tools/bench/bench_*.py (or the ones named) and summarise.

Each benchmark compares against an anchor measured in the same run (libsrtp, `cryptography`,
linphonec...) and prints its figures. A benchmark prints one line per target:

    TARGET <what>: <measured> (target <limit>) met|MISSED

and exits non-zero when it could not measure. This runner exits 1 when a benchmark failed or a
target was missed, so a regression cannot hide.
"""
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names):
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if any(n in s.stem for n in names)]
    if not scripts:
        print("bench: no benchmarks matched", names)
        return 1
    failed, targets = [], []
    for script in scripts:
        print("=== %s" % script.stem, flush=True)
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                                cwd=str(HERE.parents[1]))
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.startswith("TARGET "):
                targets.append((script.stem, line.strip()))
        if proc.wait() != 0:
            failed.append(script.stem)
        print("=== %s done in %.1f s" % (script.stem, time.monotonic() - t0), flush=True)
    print("\nTargets:")
    for stem, line in targets:
        print("  %-14s %s" % (stem, line[len("TARGET "):]))
    missed = [t for t in targets if t[1].endswith("MISSED")]
    if failed:
        print("benchmarks that failed: %s" % ", ".join(failed))
    print("%d targets, %d met, %d missed" % (len(targets), len(targets) - len(missed), len(missed)))
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
