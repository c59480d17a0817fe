"""Run the firmware tests under the MicroPython unix port.

    micropython host_tests/mp_runner.py [FILE_OR_NAME ...]

It imports every ``host_tests/firmware/test_*.py`` (or only the files named), calls each
module-level ``test_*`` function, prints every failure with its traceback, and ends with the line
``N passed, N failed``. It exits 1 on any failure, and also when it found no tests at all.
pytest runs the same files under CPython.
"""
import gc
import os
import sys
import time


def _parent(path):
    i = path.rfind("/")
    if i < 0:
        return "."
    return path[:i] or "/"


def _absolute(path):
    if path.startswith("/"):
        return path
    cwd = os.getcwd()
    while path.startswith("./"):
        path = path[2:]
    return cwd + "/" + path


HERE = _parent(_absolute(sys.argv[0]))  # host_tests/
ROOT = _parent(HERE)
TESTS = HERE + "/firmware"


def _wanted(args):
    names = sorted(n for n in os.listdir(TESTS) if n.startswith("test_") and n.endswith(".py"))
    if not args:
        return names
    picked = []
    for arg in args:
        base = arg[arg.rfind("/") + 1:]
        if not base.endswith(".py"):
            base += ".py"
        if base not in names:
            print("mp_runner: no test file", arg)
            sys.exit(2)
        picked.append(base)
    return picked


def main(args):
    sys.path.insert(0, TESTS)
    sys.path.insert(0, ROOT + "/firmware")
    passed = failed = 0
    for filename in _wanted(args):
        modname = filename[:-3]
        t0 = time.ticks_ms()
        file_passed = file_failed = 0
        try:
            module = __import__(modname)
        except BaseException as e:  # an import error fails the whole file, loudly
            print("FAIL %s (import)" % filename)
            sys.print_exception(e)
            failed += 1
            continue
        for name in sorted(dir(module)):
            if not name.startswith("test_"):
                continue
            func = getattr(module, name)
            if not callable(func):
                continue
            try:
                func()
                file_passed += 1
            except BaseException as e:
                if isinstance(e, KeyboardInterrupt):
                    raise
                print("FAIL %s::%s" % (filename, name))
                sys.print_exception(e)
                file_failed += 1
            gc.collect()
        del sys.modules[modname]
        gc.collect()
        ms = time.ticks_diff(time.ticks_ms(), t0)
        print("%s: %d passed, %d failed (%.2f s)" % (filename, file_passed, file_failed, ms / 1000))
        passed += file_passed
        failed += file_failed
    print("MicroPython %s (%s)" % (".".join(str(v) for v in sys.implementation.version[:3]), sys.platform))
    print("%d passed, %d failed" % (passed, failed))
    if failed or not passed:
        sys.exit(1)


main(sys.argv[1:])
