# memstudio — the two set-up commands of the README, plus benchmarks and the screenshot.
#   make run    create .venv if missing, install memstudio and all it needs, open the studio
#   make test   create/update the same .venv and run the whole suite headless (import contracts, ruff, pytest)
#   make bench  the benchmark scripts (figures and ratios measured in one run)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.memstudio-installed

.PHONY: run test bench lint screenshot clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m memstudio.ui.platform_check
	$(VENV)/bin/memstudio

lint: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check memstudio tests benchmarks

test: $(STAMP) lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/run_all.py

# The README's screenshot: the real window on an X server (Xvfb), captured after the first scores.
screenshot: $(STAMP)
	xvfb-run -a -s "-screen 0 1600x1000x24" $(VENV)/bin/memstudio gui --screenshot resources/screenshot.png

clean-venv:
	rm -rf $(VENV)
