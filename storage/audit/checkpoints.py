"""The log's checkpoints in the control database (`audit_checkpoints`, one per batch) and how a
new one is signed: the C2SP tlog-checkpoint body (ledger/checkpoint.py) is handed to an injected
signer, which returns the C2SP signed note; `NoteCheckpointSigner` signs with the region's key
(ledger/signed_note.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.audit_models import StoredCheckpoint
from ledger.signed_note import NoteSigner, sign_note

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


@dataclass(frozen=True)
class NoteCheckpointSigner:
    """A CheckpointSigner with one Ed25519 key (the region's), whose note key name is the log
    origin (ARCHITECTURE §3 Audit)."""

    origin: str
    private_key: Ed25519PrivateKey

    def __call__(self, checkpoint_body: str) -> str:
        """The C2SP signed note of `checkpoint_body`, one signature line."""
        return sign_note(checkpoint_body, [NoteSigner(self.origin, self.private_key)])


async def latest_checkpoint(control_db: Any) -> StoredCheckpoint | None:
    """The checkpoint of the highest batch on `control_db` (asyncpg pool or connection); None
    before the first batch."""
    row = await control_db.fetchrow(SELECT_LATEST_CHECKPOINT)
    return None if row is None else checkpoint_from_row(row)


async def checkpoint_of(control_db: Any, batch: int) -> StoredCheckpoint | None:
    """The checkpoint of `batch`; None when that batch was never closed."""
    row = await control_db.fetchrow(SELECT_CHECKPOINT, batch)
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
