# audisp-eql: `make demo` and `make test` work on a fresh Debian machine as root.
PY      := .venv/bin/python
TOOL    := .venv/bin/audisp-eql
SHARED  ?= ../shared
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all setup demo test bench fuzz lint-man install uninstall clean

all: setup

setup:
	@tools/bootstrap.sh

demo: setup
	$(TOOL) scan --rules rules/ examples/intrusion.log

test: setup
	$(PY) -m pytest -q tests

bench: setup
	@tools/bootstrap.sh --bench
	$(PY) bench/run.py --shared $(SHARED)

fuzz: setup
	$(PY) tests/fuzz/run.py --inputs 1000000

lint-man:
	mandoc -Tlint -W warning man/*.[0-9]

clean:
	rm -rf .venv build plugin/*.egg-info .pytest_cache .hypothesis
