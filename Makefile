# The two commands that matter: `make demo` (main job on the built-in scene) and `make test`.
# Both create .venv on first use and install what is missing. torch is installed as the CPU
# build 2.13.0 only when the venv has no torch yet, so a CUDA torch already there is kept.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.gscodec-installed

.PHONY: demo test install bench clean chromium

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0
	@$(PY) -m pip install -q -e ".[test,ray]"
	@$(PY) -c "import torch; print('gscodec installed; torch', torch.__version__)"
	@touch $@

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gscodec demo

PEERS := bench/peers/node_modules/.package-lock.json

# npm peers (SPZ, SOG) for the peer benchmark and its smoke tests; skipped with a note if npm fails
$(PEERS): bench/peers/package-lock.json
	@command -v npm >/dev/null && npm ci --prefix bench/peers --no-audit --no-fund --silent \
		|| echo "note: npm peers not installed; the peer smoke tests will skip"

# headless Chromium for the viewer's browser tests: the Debian packages when missing (as root);
# otherwise a note (those tests then skip, or fail under CI=true)
chromium: $(STAMP)
	@$(PY) -c "import sys; from gscodec.viewer.browser import find_chromium; sys.exit(find_chromium() is None)" \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		     && DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 \
		     && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; } \
		|| echo "note: headless Chromium not installed (needs root and apt-get); the viewer's browser tests will skip"

test: $(STAMP) $(PEERS) chromium
	$(PY) -m pytest -q

bench: $(STAMP) $(PEERS)
	$(PY) bench/render.py
	$(PY) bench/ptc_vs_peers.py

clean:
	rm -rf $(VENV) runs .pytest_cache
