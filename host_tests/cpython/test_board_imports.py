"""What the firmware imports on a board is on the board.

A board gets `firmware/zerotap` without the host-only modules, twice over: the freeze manifests
(boards/<name>/manifest.py, through boards/zerotap_manifest.py) and `make deploy`'s list
(tools/deploy.py). The tests under the unix port see the whole source tree, so a module that a
board imports but neither list carries would be an ImportError on the board only. Here every
import statement of every module a board gets is read (ast), at any depth (a function's lazy
import too), and checked against what the board holds: the frozen or deployed zerotap modules,
the board's own board.py, micropython-lib's modules the manifests `require`, and the ESP32 port's
built-in modules. A module outside all of these passes only inside `try: ... except ImportError`,
or as one of the few host-only imports named below with the reason the board never runs them.
"""
import ast
import os
import sys

from hostenv import BOARDS, FIRMWARE, ROOT

sys.path.insert(0, str(ROOT / "tools"))
import deploy  # noqa: E402

BOARD_NAMES = sorted(p.name for p in BOARDS.iterdir() if (p / "manifest.py").is_file())

# The esp32 port's own modules (MicroPython's docs, "MicroPython libraries" and the esp32 quick
# reference; ports/esp32's boards/manifest.py freezes asyncio and the port's helpers).
ESP32_PORT = {
    "array", "asyncio", "binascii", "bluetooth", "builtins", "cmath", "collections", "cryptolib",
    "deflate", "errno", "esp", "esp32", "espnow", "framebuf", "gc", "hashlib", "heapq", "io",
    "json", "machine", "math", "micropython", "network", "os", "platform", "random", "re",
    "select", "socket", "ssl", "struct", "sys", "time", "tls", "uctypes", "vfs", "_thread",
}

# Imports of modules a board does not hold, where the board never runs them:
# (file, module): why
HOST_ONLY_IMPORTS = {
    ("zerotap/__init__.py", "zerotap.shim"):
        "in the `except ImportError` of `import micropython`: CPython only",
    ("zerotap/runtime/boot.py", "zerotap.ui.hostpanel"):
        "host_front_panel(), called by `python -m zerotap run` only",
    ("zerotap/runtime/box.py", "traceback"):
        "the branch for an interpreter without sys.print_exception: CPython only",
}


def _manifest(board):
    """Run boards/BOARD/manifest.py as MicroPython's manifest runner does (each manifest runs
    with its own folder as the working directory; paths are relative to it). Returns (frozen
    module paths, required library names, included port manifests)."""
    frozen, required, port = [], [], []

    def run(path):
        path = os.path.abspath(path)
        prev = os.getcwd()
        os.chdir(os.path.dirname(path))
        try:
            with open(path) as f:
                exec(compile(f.read(), path, "exec"), dict(api))
        finally:
            os.chdir(prev)

    def include(path, **kw):
        if path.startswith("$("):
            port.append(path)
        else:
            run(path)

    def require(name, library=None, **kw):
        required.append(name)

    def module(path, base_path=".", opt=None):
        full = os.path.join(base_path, path)
        assert os.path.isfile(full), "manifest module %s: no such file" % full
        frozen.append(os.path.basename(path))

    def package(name, files=None, base_path=".", opt=None):
        root = os.path.join(base_path, name)
        assert os.path.isdir(root), "manifest package %s: no such folder" % root
        for f in files:
            assert os.path.isfile(os.path.join(root, f)), "manifest file %s/%s: missing" % (name, f)
            frozen.append(name + "/" + f)

    def freeze(*a, **kw):
        raise AssertionError("freeze() is the legacy manifest call: use package()/module()")

    api = {"include": include, "require": require, "module": module, "package": package,
           "freeze": freeze}
    run(str(BOARDS / board / "manifest.py"))
    return frozen, required, port


def _guarded(parents, node):
    """True when NODE sits in the body of a `try` whose handlers catch ImportError."""
    child = node
    for p in parents:
        if isinstance(p, ast.Try) and child in p.body:
            for h in p.handlers:
                names = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
                if h.type is None or any(getattr(n, "id", None) in ("ImportError", "Exception")
                                         for n in names):
                    return True
        child = p
    return False


def _imports(path, package):
    """[(module, line, guarded)] of the file at PATH, a module of PACKAGE (dotted); an import of
    a package's submodule (`from zerotap.ui import display`) names the submodule too."""
    tree = ast.parse(path.read_text(), str(path))
    parents = {}
    for p in ast.walk(tree):
        for c in ast.iter_child_nodes(p):
            parents[c] = p
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            names = [mod] + [mod + "." + a.name for a in node.names
                             if (FIRMWARE / (mod + "." + a.name).replace(".", "/")).is_dir() or
                             (FIRMWARE / ((mod + "." + a.name).replace(".", "/") + ".py")).is_file()]
        else:
            continue
        chain, p = [], node
        while p in parents:
            p = parents[p]
            chain.append(p)
        for name in names:
            out.append((name, node.lineno, _guarded(chain, node)))
    return out


def _module_name(rel):
    name = rel[:-3].replace("/", ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def test_the_freeze_manifests_carry_what_make_deploy_copies():
    files, host_only = deploy.board_files()
    every = sorted(p.relative_to(FIRMWARE).as_posix() for p in (FIRMWARE / "zerotap").rglob("*.py"))
    assert sorted(files) == sorted(set(every) - set(host_only))
    assert BOARD_NAMES == ["esp32_devkit", "heltec_wifi_kit_32", "olimex_esp32_poe", "wt32_eth01"]
    for board in BOARD_NAMES:
        frozen, required, port = _manifest(board)
        assert sorted(f for f in frozen if f.startswith("zerotap/")) == sorted(files), board
        assert "board.py" in frozen and "ssd1306" in required, board
        assert port == ["$(PORT_DIR)/boards/manifest.py"], board  # asyncio and the port's own
        plan = [t for _, t, _ in deploy.plan(board)]
        assert sorted(plan) == sorted(["/lib/" + f[:-3] + ".mpy" for f in files] +
                                      ["/board.mpy", "/main.py"]), board


def test_every_import_on_a_board_is_on_the_board():
    files, _ = deploy.board_files()
    on_board = {_module_name(f) for f in files}
    problems, seen = [], set()
    for board in BOARD_NAMES:
        _, required, _ = _manifest(board)
        have = on_board | ESP32_PORT | set(required) | {"board"}
        sources = [(FIRMWARE / f, f, _module_name(f) if f.endswith("/__init__.py")
                    else _module_name(f).rpartition(".")[0]) for f in files]
        sources += [(BOARDS / board / n, "boards/%s/%s" % (board, n), "") for n in
                    ("board.py", "main.py")]
        for path, rel, package in sources:
            for name, line, guarded in _imports(path, package):
                top = name if name.startswith("zerotap") else name.split(".")[0]
                if top in have or guarded:
                    continue
                if (rel, name) in HOST_ONLY_IMPORTS:
                    seen.add((rel, name))
                    continue
                problems.append("%s:%d imports %s, which %s does not hold" % (rel, line, name,
                                                                              board))
    assert not problems, "\n".join(sorted(set(problems)))
    # the list of host-only imports names only imports that are there
    assert seen == set(HOST_ONLY_IMPORTS), set(HOST_ONLY_IMPORTS) - seen


def test_a_board_main_reaches_the_box_through_held_modules():
    """main.py imports zerotap.runtime.boot and the board module; both are on every board."""
    files, _ = deploy.board_files()
    assert "zerotap/runtime/boot.py" in files and "zerotap/board.py" in files
    for board in BOARD_NAMES:
        names = [n for n, _, _ in _imports(BOARDS / board / "main.py", "")]
        assert "zerotap.runtime.boot" in names, board
        assert "board" in (BOARDS / board / "main.py").read_text(), board
