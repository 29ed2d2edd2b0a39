"""The witness role's state: per log origin, the latest checkpoint it verified and cosigned
(`witness_checkpoints`).

C2SP tlog-witness requires that checking the old size and storing the new checkpoint be one
atomic step, or two concurrent requests could both pass the check and the smaller one roll the
stored size back. `advance` is a compare-and-set: it moves a row only from the exact (size,
root) the request was checked against, so of two racing requests one wins and the other sees a
conflict and answers 409 with the winner's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SELECT_LATEST = "SELECT size, root, note FROM witness_checkpoints WHERE origin = $1"
ADVANCE = """
UPDATE witness_checkpoints SET size = $4, root = $5, note = $6, updated_at = now()
WHERE origin = $1 AND size = $2 AND root = $3
"""
INSERT_FIRST = """
INSERT INTO witness_checkpoints (origin, size, root, note) VALUES ($1, $2, $3, $4)
ON CONFLICT (origin) DO NOTHING
"""


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """The latest checkpoint the witness cosigned for one origin, with its cosignature."""

    origin: str
    size: int
    root: bytes
    note: str


async def latest(db: Any, origin: str) -> WitnessedCheckpoint | None:
    """The latest cosigned checkpoint of `origin`; None when the witness never cosigned one."""
    row = await db.fetchrow(SELECT_LATEST, origin)
    if row is None:
        return None
    return WitnessedCheckpoint(origin, int(row["size"]), bytes(row["root"]), row["note"])


async def advance(db: Any, previous: WitnessedCheckpoint | None, new: WitnessedCheckpoint) -> bool:
    """Store `new` as the origin's latest if the stored one is still `previous` (None: there is
    none yet); False, with nothing written, when another request moved it first."""
    if previous is None:
        status = await db.execute(INSERT_FIRST, new.origin, new.size, new.root, new.note)
    else:
        status = await db.execute(
            ADVANCE, new.origin, previous.size, previous.root, new.size, new.root, new.note
        )
    # asyncpg answers the command tag: "UPDATE 1" / "INSERT 0 1" when a row was written.
    return bool(status.endswith(" 1"))
