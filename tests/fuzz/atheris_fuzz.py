"""Coverage-guided byte fuzzing of one parser pair with atheris (libFuzzer), in its own process.

    .venv/bin/python tests/fuzz/atheris_fuzz.py TARGET [libFuzzer flags] [CORPUS_DIR ...]

TARGET is one of tests.fuzz.differential.CHECKS (batch, record, manifest, frames). Each input
goes through the same differential check as the hypothesis tests; a mismatch or any exception
ends the run with a non-zero exit status and a crash-* file under -artifact_prefix. atheris owns
the process (it exits on a finding), which is why tests/fuzz/test_atheris.py runs this as a
subprocess with bounded -runs or -max_total_time and a per-input -timeout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["ledger", "api", "storage", "tests", "json"]):
    from tests.fuzz.differential import CHECKS


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in CHECKS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(CHECKS)}}} [libFuzzer flags] [corpus dirs]")
    check = CHECKS[sys.argv[1]]
    # Deep nesting is part of the input space; give the parsers the interpreter's usual room.
    sys.setrecursionlimit(1000)
    atheris.Setup([sys.argv[0], *sys.argv[2:]], check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
