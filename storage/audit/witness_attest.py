"""One witness's part of attesting a checkpoint: skip it while its breaker is open, else submit
from the size it last cosigned, store the cosignature and close the breaker, or count the
failure. A fork is not a failure: AuditForkDetected goes to the caller, untouched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ledger.cosignature import verify_cosignature
from ledger.signed_note import split_note
from storage.audit.errors import WitnessFailed
from storage.audit.witness_client import ProofFrom, WitnessTarget, submit_checkpoint
from storage.audit.witness_cosignatures import StoredCosignature, store_cosignature
from storage.audit.witness_health import health, record_failure, record_success
from storage.faults import crash_point

CRASH_AFTER_COSIGNED = "audit-attest-cosigned"
"""Crash point: the witness cosigned the checkpoint (and moved its state), the log has not
stored the cosignature."""
CRASH_AFTER_STORED = "audit-attest-stored"
"""Crash point: the cosignature is stored and the witness's health recorded, the task has not
returned."""


@dataclass(frozen=True)
class WitnessOutcome:
    """What became of one witness: its cosignature, or skipped (breaker open), or the error."""

    witness: str
    cosignature: StoredCosignature | None = None
    skipped: bool = False
    error: str | None = None


async def attest_checkpoint(
    db: Any,
    witness: WitnessTarget,
    *,
    batch: int,
    note: str,
    size: int,
    proof_from: ProofFrom,
    open_after: int,
    cooldown_s: float,
    client: httpx.AsyncClient | None = None,
) -> WitnessOutcome:
    """Get and store `witness`'s cosignature of the checkpoint `note` (tree `size`, closing
    `batch`); idempotent per (batch, witness). Raises AuditForkDetected."""
    state = await health(db, witness.name)
    if state.is_open:
        return WitnessOutcome(witness.name, skipped=True, error=state.last_error)
    # From what it last cosigned for us; a witness that moved since (or lost its state) says so
    # with a 409 and the client re-sends from its size.
    old = state.last_size if state.last_size is not None and state.last_size <= size else 0
    try:
        proof = list(await proof_from(old)) if 0 < old < size else []
        line = await submit_checkpoint(
            witness, note, old, proof, proof_from=proof_from, client=client
        )
    except WitnessFailed as exc:
        await record_failure(
            db, witness.name, exc.reason, open_after=open_after, cooldown_s=cooldown_s
        )
        return WitnessOutcome(witness.name, error=exc.reason)
    timestamp = verify_cosignature(line, split_note(note)[0], witness.vkey)
    crash_point(CRASH_AFTER_COSIGNED)
    cosignature = StoredCosignature(batch, witness.name, line, timestamp, size)
    await store_cosignature(db, cosignature)
    await record_success(db, witness.name, size)
    crash_point(CRASH_AFTER_STORED)
    return WitnessOutcome(witness.name, cosignature)
