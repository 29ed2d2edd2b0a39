"""The circuit breaker of each witness a log submits to (`audit_witness_health`).

After `open_after` consecutive failures the breaker opens: the witness is skipped until
`open_until`, so one unreachable witness cannot hold the log's backlog. After the cool-down the
next checkpoint is tried again (half-open): a success closes the breaker, a failure opens it
for another cool-down. The witnesses whose breaker is open are what the WitnessUnreachable
alert reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

SELECT_HEALTH = """
SELECT witness, consecutive_failures, open_until, last_error, last_size,
       open_until IS NOT NULL AND open_until > now() AS is_open
FROM audit_witness_health WHERE witness = $1
"""
SELECT_OPEN = """
SELECT witness FROM audit_witness_health WHERE open_until > now() ORDER BY witness
"""
RECORD_SUCCESS = """
INSERT INTO audit_witness_health (witness, consecutive_failures, open_until, last_error, last_size)
VALUES ($1, 0, NULL, NULL, $2)
ON CONFLICT (witness) DO UPDATE
SET consecutive_failures = 0, open_until = NULL, last_error = NULL,
    last_size = GREATEST(audit_witness_health.last_size, EXCLUDED.last_size)
"""
# The breaker opens when this failure is the open_after-th in a row (or later).
RECORD_FAILURE = """
INSERT INTO audit_witness_health AS h (witness, consecutive_failures, open_until, last_error)
VALUES ($1, 1, CASE WHEN $3 <= 1 THEN now() + make_interval(secs => $4) END, $2)
ON CONFLICT (witness) DO UPDATE
SET consecutive_failures = h.consecutive_failures + 1,
    last_error = EXCLUDED.last_error,
    open_until = CASE WHEN h.consecutive_failures + 1 >= $3
                      THEN now() + make_interval(secs => $4) ELSE h.open_until END
"""


@dataclass(frozen=True)
class WitnessHealth:
    """One witness's breaker as stored."""

    witness: str
    consecutive_failures: int
    open_until: datetime | None
    last_error: str | None
    last_size: int | None
    is_open: bool


async def health(db: Any, witness: str) -> WitnessHealth:
    """The witness's breaker; closed with no failures for a witness never seen."""
    row = await db.fetchrow(SELECT_HEALTH, witness)
    if row is None:
        return WitnessHealth(witness, 0, None, None, None, False)
    return WitnessHealth(
        witness,
        int(row["consecutive_failures"]),
        row["open_until"],
        row["last_error"],
        None if row["last_size"] is None else int(row["last_size"]),
        bool(row["is_open"]),
    )


async def open_witnesses(db: Any) -> list[str]:
    """The witnesses being skipped now (breaker open), by name: WitnessUnreachable's subject."""
    return [row["witness"] for row in await db.fetch(SELECT_OPEN)]


async def record_success(db: Any, witness: str, size: int) -> None:
    """The witness cosigned a checkpoint of `size`: close its breaker, remember the size."""
    await db.execute(RECORD_SUCCESS, witness, size)


async def record_failure(
    db: Any, witness: str, error: str, *, open_after: int, cooldown_s: float
) -> None:
    """One more consecutive failure; the breaker opens for `cooldown_s` at the `open_after`-th
    (and again at each failure after it)."""
    await db.execute(RECORD_FAILURE, witness, error[:1000], open_after, cooldown_s)
