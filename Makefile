# Gatepost: `make demo` to try it, `make test` to check it. Both create .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test lint typecheck unit browser-deps bench faults protocol-doc phone-src clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed: install python3.11 and run again."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[server,app,web,dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

# The browser tests drive Debian's Chromium; install it when we are allowed to, otherwise say so and fail.
browser-deps:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium from Debian's packages for the browser tests..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi; \
	if [ ! -x "$(CHROMIUM)" ]; then \
		echo "The browser tests need Chromium at $(CHROMIUM) and it could not be installed here."; \
		echo "Install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium."; \
		exit 1; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

protocol-doc: $(STAMP)
	$(PY) -m shared.protocol_doc

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

# Everything but the browser tests on two workers (pytest-xdist), then the browser tests alone: they
# wait on a real app drawing in Chromium, and beside other tests their timed waits ran out.
test: $(STAMP) browser-deps lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider -m "not browser" -n 2 --dist worksteal
	OUTREACH_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q -p no:cacheprovider -m browser

demo: $(STAMP)
	$(PY) -m outreach_app.demo_launcher

bench: $(STAMP)
	$(PY) -m tests.bench

# The fault campaign at scale (a smaller run is part of `make test`); SEED=n re-runs one.
faults: $(STAMP)
	$(PY) -m tests.faults --schedules $(or $(SCHEDULES),1000) $(if $(SEED),--seed $(SEED))

# The client alone, laid out as `flet build apk|ipa` expects; the server never ships to phones.
phone-src:
	rm -rf build/phone && mkdir -p build/phone
	cp -r outreach_app shared assets pyproject.toml README.md build/phone/
	find build/phone -name __pycache__ -prune -exec rm -rf {} +
	printf 'from outreach_app.main import run\n\nrun()\n' > build/phone/main.py
	@echo "Client staged in build/phone: cd build/phone && flet build apk (needs the Flutter SDK)"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
