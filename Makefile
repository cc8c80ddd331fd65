# Every target a user or CI needs. `make setup` is idempotent and installs
# everything on a fresh Debian machine (run as root, or with sudo available).

VENV    ?= .venv
PY      := $(VENV)/bin/python
MPY     := $(VENV)/bin/micropython
SHARED  ?= ../shared
BOARD   ?= sim
APT_PACKAGES := python3-venv python3-dev build-essential libasound2-dev alsa-utils libasound2-plugins \
                kamailio kamailio-tls-modules kamailio-outbound-modules sip-tester \
                tshark openssl

.PHONY: setup apt venv check test unit unit-mpy integration system sim image bench clean

setup: apt venv

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	else echo "Debian packages present"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: requirements/dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt
	touch $@

check: venv
	$(PY) tools/layercheck firmware
	$(PY) tools/mpycompile firmware
	$(VENV)/bin/ruff check firmware tools tests

unit: venv
	$(PY) -m pytest tests/unit tests/tools

unit-mpy: venv
	$(MPY) -X heapsize=16M tests/mprun.py -q tests/unit

integration: setup
	$(PY) -m pytest tests/integration tests/system

test: setup check unit unit-mpy integration

# Two simulated phones and a local Kamailio (TLS, 127.0.0.1): a scripted call,
# then a prompt to work the phones (none without a terminal). tools/simdemo --help
sim: setup
	$(PY) tools/simdemo $(SIM_ARGS)

image: venv
	$(PY) tools/fwimage build --board boards/$(BOARD).json $(if $(KEY),--key $(KEY)) \
	  $(if $(filter 1 yes,$(PRECOMPILE)),--precompile)

bench: setup
	@dpkg-query -W -f='$${Status}' baresip 2>/dev/null | grep -q "ok installed" || { \
	  SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q baresip; }
	$(PY) -m pip install -q -r requirements/bench.txt
	$(PY) tools/bench

clean:
	rm -rf build dist
