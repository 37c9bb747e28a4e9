# Two commands for people: `make run` (the whole centre) and `make test` (what CI runs).
# The virtual environment is (re)installed when missing or when pyproject.toml changed.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.stamp-installed
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test check bench clean venv chromium rtsp

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[dev]'
	@# ultralytics pulls in opencv-python, which shares the cv2 folder with the headless
	@# build we pin: keep exactly one (the headless one, no GUI libraries needed).
	@if $(VENV)/bin/pip show -q opencv-python >/dev/null 2>&1; then \
		$(VENV)/bin/pip uninstall -q -y opencv-python && \
		$(VENV)/bin/pip install -q --force-reinstall --no-deps opencv-python-headless==5.0.0.93; \
	fi
	@touch $@

run: $(STAMP)
	$(VENV)/bin/ioc run

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian chromium (browser tests)"; \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	fi

# A real RTSP server for the camera-source tests (tests/vision/test_rtsp.py, run by Debian's
# python3): GStreamer's gst-rtsp-server. The tests skip without it.
RTSP_PACKAGES := gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad python3-gi
rtsp:
	@if ! /usr/bin/python3 -c "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); \
		from gi.repository import Gst, GstRtspServer; Gst.init(None); \
		raise SystemExit(0 if all(map(Gst.ElementFactory.find, ('tsdemux', 'h264parse', 'rtph264pay'))) else 1)" 2>/dev/null; then \
		echo "installing GStreamer's RTSP server (camera-source tests)"; \
		( $(SUDO) apt-get update && \
		  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(RTSP_PACKAGES) ) || \
		echo "warning: could not install $(RTSP_PACKAGES); the RTSP tests will be skipped"; \
	fi

test: $(STAMP) chromium rtsp
	bash scripts/check

check: $(STAMP)
	bash scripts/check

# Every bench/*.py prints progress on stderr and ONE JSON line last on stdout, kept in
# bench/results/<name>.json (git-ignored).
bench: $(STAMP)
	@mkdir -p bench/results
	@set -eo pipefail; for f in bench/*.py; do \
		name=$$(basename $$f .py); echo "==> bench $$name"; \
		$(VENV)/bin/python $$f | tee bench/results/$$name.out; \
		tail -n 1 bench/results/$$name.out > bench/results/$$name.json; \
	done

# Caches and build leftovers only: the centre's state (.ioc, with its database) and the
# virtual environment are kept; remove them by hand if you mean it.
clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info $(STAMP)
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
