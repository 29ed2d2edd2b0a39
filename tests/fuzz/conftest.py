"""hypothesis profiles for the fuzz tests.

`make test` runs the quick profile: derandomized (the same examples every run, so a failure
reproduces), a few hundred examples per property, seconds in all. `make soak` sets
GEOLEDGER_FUZZ_EXAMPLES (and GEOLEDGER_FUZZ_SECONDS for atheris) and gets the random, long one.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

SOAK_EXAMPLES = os.environ.get("GEOLEDGER_FUZZ_EXAMPLES")
# Per input: far above what any single parse takes, low enough that a hang fails the run.
PER_INPUT = timedelta(seconds=5)
_COMMON = {
    "deadline": PER_INPUT,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}

settings.register_profile("quick", max_examples=150, derandomize=True, database=None, **_COMMON)
settings.register_profile(
    "soak",
    max_examples=int(SOAK_EXAMPLES or 0) or 1,
    derandomize=False,
    # Failures found in a soak are replayed first by the next one (an ignored folder).
    database=DirectoryBasedExampleDatabase(".geoledger/hypothesis"),
    **_COMMON,
)
settings.load_profile("soak" if SOAK_EXAMPLES else "quick")
