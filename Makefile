# The two commands from the README: `make demo` and `make test`.
# Each sets up what it needs and is quick when that is already done.

PY      := .venv/bin/python
STAMPS  := .stamps
DEBS    := $(shell grep -v '^\#' tests/debian-packages.txt)

.PHONY: demo test lint typecheck unit integration venv debs clean

demo: $(STAMPS)/venv
	$(PY) -m perflab demo

# Coverage counts perflab's child processes too (coverage's subprocess patch); its floor is in
# pyproject.toml, and what stays uncovered is named in docs/design.md.
# Most tests wait on peers and child processes, not on the CPU: they run on two workers (a module
# stays on one worker). Tests marked `alone` measure speed against a peer or a known capacity,
# so they run afterwards, one at a time; the floor is checked on the combined coverage.
test: $(STAMPS)/venv $(STAMPS)/debs lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile -m "not alone" --cov --cov-report= --cov-fail-under=0 tests
	$(PY) -m pytest -q -p no:cacheprovider -m alone --cov --cov-append --cov-report=term tests

lint: $(STAMPS)/venv
	.venv/bin/ruff check src tests benchmarks

typecheck: $(STAMPS)/venv
	.venv/bin/mypy

unit: $(STAMPS)/venv
	$(PY) -m pytest -q tests/unit

integration: $(STAMPS)/venv $(STAMPS)/debs
	$(PY) -m pytest -q tests/integration

venv: $(STAMPS)/venv
debs: $(STAMPS)/debs

$(STAMPS)/venv: pyproject.toml
	@mkdir -p $(STAMPS)
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# Debian packages the tests use (real peers). Installed only when one is missing.
$(STAMPS)/debs: tests/debian-packages.txt
	@mkdir -p $(STAMPS)
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@touch $@

clean:
	rm -rf $(STAMPS) .mypy_cache .ruff_cache .pytest_cache
