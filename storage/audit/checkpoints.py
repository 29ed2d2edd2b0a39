"""The log's checkpoints in the control database (`audit_checkpoints`, one per batch) and how a
new one is signed: the C2SP tlog-checkpoint body is handed to an injected signer, which returns
the C2SP signed note (the region's key; ledger/signed_note.py)."""

from __future__ import annotations

import base64
from typing import Any, Protocol

from ledger.audit_models import StoredCheckpoint

SELECT_CHECKPOINT = """
SELECT batch, size, root, note, created_at FROM audit_checkpoints WHERE batch = $1
"""
SELECT_LATEST_CHECKPOINT = """
SELECT batch, size, root, note, created_at FROM audit_checkpoints ORDER BY batch DESC LIMIT 1
"""
INSERT_CHECKPOINT = """
INSERT INTO audit_checkpoints (batch, size, root, note) VALUES ($1, $2, $3, $4)
"""


class CheckpointSigner(Protocol):
    """Signs checkpoints of one log: `origin` is the log's name (its first checkpoint line and
    the note key's name); calling it with a checkpoint body returns the signed note."""

    @property
    def origin(self) -> str:
        """The log origin, e.g. `geoledger.example/audit/us`."""
        ...

    def __call__(self, checkpoint_body: str) -> str:
        """The C2SP signed note of `checkpoint_body`."""
        ...


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """C2SP tlog-checkpoint body: origin, decimal size, standard base64 root, each on its line."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


async def latest_checkpoint(control_db: Any) -> StoredCheckpoint | None:
    """The checkpoint of the highest batch on `control_db` (asyncpg pool or connection); None
    before the first batch."""
    row = await control_db.fetchrow(SELECT_LATEST_CHECKPOINT)
    return None if row is None else checkpoint_from_row(row)


def checkpoint_from_row(row: Any) -> StoredCheckpoint:
    """An `audit_checkpoints` row (every column) as the model."""
    return StoredCheckpoint(
        batch=row["batch"],
        size=row["size"],
        root_hex=bytes(row["root"]).hex(),
        note=row["note"],
        created_at=row["created_at"],
    )
