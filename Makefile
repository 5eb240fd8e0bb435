# Two commands set up and use a fresh clone: `make run` (the main job on the bundled data)
# and `make test` (the default test suite). Both create .venv on first use.
PYTHON ?= python
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow notebooks lint lock clean-store browser

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), f"nowcast needs Python >= 3.12 (see .python-version); {sys.executable} is {sys.version.split()[0]}"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/nowcast run

test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 -q

# The report test opens the HTML in Debian's headless Chromium (installed here when missing).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Slow tests: calibration runs, the long profile of the property-based source mutation tests
# (tests/sources/test_mutations.py; NOWCAST_HYPOTHESIS_PROFILE=long also runs it in place of the
# short one) and many kills of a process writing to the store.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -s -m slow -o addopts=''

# Execute every notebook in full mode (the spec's window and draws; notebook 6 alone, the
# backtest and the calibration, took 19.5 minutes on 2 cores) into notebooks/executed/: the
# executed .ipynb and an HTML copy of each.
notebooks: $(STAMP)
	$(BIN)/python -m nowcast.notebooks --out notebooks/executed

lint: $(STAMP)
	$(BIN)/ruff check nowcast tests benchmarks notebooks

# Re-resolve and record the versions CI tests with.
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^nowcast' > requirements.lock

clean-store:
	rm -rf store
