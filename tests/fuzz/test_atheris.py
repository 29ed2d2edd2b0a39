"""atheris runs of every target, each in its own process (atheris exits on a finding).

Quick by default: a fixed seed and a fixed number of runs, starting from the committed corpus.
GEOLEDGER_FUZZ_SECONDS=N (set by `make soak`) runs each target for N seconds instead. A finding
fails the test with atheris's report; its crash-* file (kept under the test's tmp dir and named in
the failure) belongs in tests/fuzz/corpus/<target>/ once the cause is fixed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.differential import CHECKS

HELPER = Path(__file__).with_name("atheris_fuzz.py")
CORPUS = Path(__file__).with_name("corpus")
QUICK_RUNS = 1500
SECONDS = int(os.environ.get("GEOLEDGER_FUZZ_SECONDS", "0"))
PER_INPUT_S = 5


@pytest.mark.parametrize("target", sorted(CHECKS))
def test_atheris_finds_nothing(target: str, tmp_path: Path) -> None:
    # New inputs go to the first corpus folder: a scratch copy, never the committed one.
    scratch = tmp_path / "corpus"
    shutil.copytree(CORPUS / target, scratch)
    budget = [f"-max_total_time={SECONDS}"] if SECONDS else [f"-runs={QUICK_RUNS}", "-seed=1"]
    result = subprocess.run(
        [
            sys.executable,
            str(HELPER),
            target,
            *budget,
            f"-timeout={PER_INPUT_S}",
            "-max_len=8192",
            "-rss_limit_mb=1024",
            f"-artifact_prefix={tmp_path}/",
            str(scratch),
        ],
        capture_output=True,
        text=True,
        timeout=(SECONDS or 60) * 2 + 120,
        cwd=tmp_path,
    )
    # atheris prints a Python exception's traceback on stdout, libFuzzer's summary on stderr.
    report = f"{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
    assert result.returncode == 0, f"atheris found a case (artifacts in {tmp_path}):\n{report}"
    assert "Done " in result.stderr, report
