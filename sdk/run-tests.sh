#!/usr/bin/env bash
# Runs the three SDK suites and their publish dry runs.
#
#   sdk/run-tests.sh [--require-all]
#
# Python runs with ../.venv/bin/python (override with GEOLEDGER_PYTHON). When `go` or `node` is
# missing, its suite is SKIPPED loudly; with --require-all (CI) a missing toolchain is a failure.
# GEOLEDGER_GO_TAG, when set (CI on a tag push), is checked against sdk/go/VERSION.
# Exit status is non-zero when any step failed (or was skipped under --require-all).
set -uo pipefail

SDK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$SDK_DIR")
PYTHON=${GEOLEDGER_PYTHON:-$REPO_DIR/.venv/bin/python}
REQUIRE_ALL=0

for arg in "$@"; do
    case "$arg" in
        --require-all) REQUIRE_ALL=1 ;;
        -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "run-tests.sh: unknown argument '$arg' (expected --require-all)" >&2; exit 2 ;;
    esac
done

passed=() failed=() skipped=()
started=$SECONDS

# step NAME COMMAND...: run one step, print its outcome and duration, remember it.
step() {
    local name=$1
    shift
    local t0=$SECONDS
    echo
    echo "=== $name"
    if "$@"; then
        echo "--- PASS: $name ($((SECONDS - t0)) s)"
        passed+=("$name")
    else
        echo "--- FAIL: $name ($((SECONDS - t0)) s)"
        failed+=("$name")
    fi
}

# skip NAME REASON: a suite that cannot run here; a failure under --require-all.
skip() {
    echo
    echo "######################################################################"
    echo "SKIPPED: $1 - $2"
    echo "######################################################################"
    if ((REQUIRE_ALL)); then
        failed+=("$1 (toolchain missing, --require-all)")
    else
        skipped+=("$1")
    fi
}

# ---- golden vectors: every suite below is only as good as these ------------------------------

vectors_current() {
    (cd "$REPO_DIR" && "$PYTHON" -c '
import sys
from cli.sdk import DEFAULT_VECTORS_PATH, vectors_are_current
if not vectors_are_current(DEFAULT_VECTORS_PATH):
    sys.exit(f"{DEFAULT_VECTORS_PATH} is stale: run `geoledger sdk vectors` and commit it")
')
}

# ---- Python ----------------------------------------------------------------------------------

python_tests() {
    (cd "$SDK_DIR/python" && PYTHONPATH="$SDK_DIR/python/src" "$PYTHON" -m pytest -q tests)
}

python_types() {
    (cd "$SDK_DIR/python" && "$PYTHON" -m mypy --strict --no-error-summary src)
}

python_publish_dry_run() {
    local out
    out=$(mktemp -d)
    (cd "$SDK_DIR/python" && "$PYTHON" -m build --sdist --wheel --outdir "$out" . >"$out/build.log" 2>&1) ||
        { cat "$out/build.log"; rm -rf "$out"; return 1; }
    "$PYTHON" -m twine check --strict "$out"/*.whl "$out"/*.tar.gz
    local status=$?
    rm -rf "$out" "$SDK_DIR/python/build"
    return $status
}

if [[ -x "$PYTHON" ]]; then
    step "golden vectors are current" vectors_current
    step "python: tests" python_tests
    step "python: mypy --strict" python_types
    step "python: build sdist+wheel, twine check" python_publish_dry_run
else
    skip "python" "no interpreter at $PYTHON (run make bootstrap or set GEOLEDGER_PYTHON)"
fi

# ---- Go --------------------------------------------------------------------------------------

go_format() {
    local unformatted
    unformatted=$(cd "$SDK_DIR/go" && gofmt -l .)
    [[ -z "$unformatted" ]] || { echo "gofmt would change: $unformatted"; return 1; }
}

if command -v go >/dev/null 2>&1; then
    step "go: gofmt" go_format
    step "go: vet" bash -c "cd '$SDK_DIR/go' && go vet ./..."
    step "go: test" bash -c "cd '$SDK_DIR/go' && go test ./..."
    step "go: release check (module path, VERSION, tag)" \
        "$SDK_DIR/go/scripts/check-release.sh" ${GEOLEDGER_GO_TAG:+"$GEOLEDGER_GO_TAG"}
else
    skip "go" "the go toolchain is not installed"
fi

# ---- TypeScript ------------------------------------------------------------------------------

node_dependencies() {
    cd "$SDK_DIR/ts" || return 1
    # npm ci only when node_modules is missing or older than the lock file.
    if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
        npm ci --no-audit --no-fund
    fi
}

node_version_ok() {
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    ((major >= 20)) || { echo "Node 20+ required, found $(node --version)"; return 1; }
}

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    step "ts: node version" node_version_ok
    step "ts: npm ci" node_dependencies
    # tsc runs twice, not once per npm script: build dist/ (what gets published), then type-check
    # and compile src, tests and examples into build/ (examples import the built package).
    step "ts: tsc build (dist/)" bash -c "cd '$SDK_DIR/ts' && npx --no-install tsc -p tsconfig.json"
    step "ts: tsc type check (src, tests, examples)" \
        bash -c "cd '$SDK_DIR/ts' && npx --no-install tsc -p tsconfig.test.json"
    step "ts: test" bash -c "cd '$SDK_DIR/ts' && node --test build/test/*.test.js >build/test-output.txt 2>&1 ||
        { cat build/test-output.txt; exit 1; }; grep -E '^# (tests|pass|fail|skipped)' build/test-output.txt"
    step "ts: npm pack --dry-run" \
        bash -c "cd '$SDK_DIR/ts' && npm pack --dry-run --ignore-scripts --silent >/dev/null"
else
    skip "ts" "node and npm are not installed"
fi

# ---- summary ---------------------------------------------------------------------------------

echo
for name in "${failed[@]}"; do echo "FAILED: $name"; done
for name in "${skipped[@]}"; do echo "SKIPPED: $name"; done
result=ok
((${#failed[@]} == 0)) || result=FAILED
echo "SDK summary: $result - ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped" \
    "in $((SECONDS - started)) s"
[[ $result == ok ]]
