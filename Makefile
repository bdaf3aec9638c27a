# Two commands: `make demo` and `make test`. Both create .venv and install everything first.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@# open3d needs libusb-1.0 (system library); install it when missing
	@if ! ldconfig -p | grep -q libusb-1.0.so.0; then \
	    echo "installing libusb-1.0-0 (apt)"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get install -y -q libusb-1.0-0 || ($$SUDO apt-get update -q && $$SUDO apt-get install -y -q libusb-1.0-0); \
	fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[all,test]'
	touch $(STAMP)

demo: setup
	$(PY) cli.py demo --out demo_out

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest tests

clean:
	rm -rf $(VENV) demo_out .pytest_cache
