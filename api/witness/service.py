"""The witness: checks a log's checkpoint against the latest one it cosigned, then cosigns it.

It follows C2SP tlog-witness add-checkpoint (c2sp.org/tlog-witness) with one deliberate
difference, which issue 12 asks for ("refuses a rollback or a fork, HTTP 409 with its latest"):

- Old size different from the witness's latest: 409, body "<latest size>\\n" as
  text/x.tlog.size. As the spec says.
- Rollback, a checkpoint smaller than the latest cosigned: the spec answers 409 when the old
  size does not match, and 400 when the old size exceeds the checkpoint size. We answer 409 with
  the latest size in both cases, so a log always learns what the witness holds.
- Fork, a consistency proof from the latest cosigned checkpoint that does not verify, or the
  same size with another root: the spec answers 422. We answer 409 with the latest size: the log
  then re-sends from that size, and a second refusal there is its proof of a fork
  (storage/audit/witness_client.py raises AuditForkDetected). The refused note is logged, as
  evidence of misbehaviour (the spec's MAY).
- Everything else as the spec says: 400 for a malformed body or an old size above the
  checkpoint size (when the checkpoint is not a rollback), 404 for an unknown origin, 403 when
  no trusted log signature verifies or one fails, 422 for a non-empty proof from size 0 or a
  size-0 checkpoint whose root is not the empty tree's.

Monitors read the latest cosigned checkpoint at GET /<origin hash>/checkpoint, served from the
stored state (so never older than the last cosignature).

The new checkpoint is stored with a compare-and-set (storage/audit/witness_state.py) before the
cosignature is answered; losing the race to another request is a 409 like any other conflict.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from api.witness.errors import (
    CheckpointConflict,
    InconsistentRequest,
    MalformedRequest,
    UnknownLog,
    UntrustedCheckpoint,
)
from ledger.checkpoint import Checkpoint, note_origin, open_checkpoint
from ledger.cosignature import CosignatureSigner
from ledger.errors import MalformedNoteError, UnverifiedNoteError
from ledger.merkle import EMPTY_ROOT, ProofError, verify_consistency
from ledger.signed_note import NoteVerifier
from ledger.witness_protocol import AddCheckpointRequest, origin_hash, parse_add_checkpoint
from storage.audit.witness_state import WitnessedCheckpoint, advance, latest

log = logging.getLogger(__name__)


@dataclass
class WitnessService:
    """One witness: its cosigning key, the logs it cosigns (origin -> log key), its state."""

    signer: CosignatureSigner
    logs: Mapping[str, NoteVerifier]
    db: Any  # asyncpg pool of the control database holding witness_checkpoints
    clock: Callable[[], float] = field(default=time.time)

    async def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line for the checkpoint in the add-checkpoint `body`, once stored as
        the latest for its origin; raises a WitnessRefusal otherwise, having changed nothing."""
        request, checkpoint = self._checked_request(body)
        previous = await latest(self.db, checkpoint.origin)
        self._check_extends(previous, request, checkpoint)
        timestamp = max(1, int(self.clock()))
        line = self.signer.cosign(checkpoint.body(), timestamp)
        stored = WitnessedCheckpoint(
            checkpoint.origin, checkpoint.size, checkpoint.root_hash, request.note + line
        )
        if not await advance(self.db, previous, stored):
            current = await latest(self.db, checkpoint.origin)
            size = current.size if current else 0
            raise CheckpointConflict(f"another checkpoint was cosigned first: size {size}", size)
        return line

    async def latest_checkpoint(self, hashed: str) -> str:
        """The latest cosigned checkpoint note (log signature and cosignature) of the log whose
        origin hashes to `hashed`; UnknownLog when there is none (tlog-witness: 404)."""
        origin = next((o for o in self.logs if origin_hash(o) == hashed), None)
        state = None if origin is None else await latest(self.db, origin)
        if state is None:
            raise UnknownLog(f"no cosigned checkpoint for origin hash {hashed!r}")
        return state.note

    def _checked_request(self, body: bytes) -> tuple[AddCheckpointRequest, Checkpoint]:
        """The request and its checkpoint, if well-formed and signed by the origin's log key."""
        try:
            request = parse_add_checkpoint(body)
            origin = note_origin(request.note)
        except MalformedNoteError as exc:
            raise MalformedRequest(str(exc)) from exc
        verifier = self.logs.get(origin)
        if verifier is None:
            raise UnknownLog(f"unknown log origin {origin!r}")
        try:
            checkpoint, _ = open_checkpoint(request.note, [verifier])
        except UnverifiedNoteError as exc:
            raise UntrustedCheckpoint(str(exc)) from exc
        except MalformedNoteError as exc:
            raise MalformedRequest(str(exc)) from exc
        if request.old_size == 0 and request.proof:
            raise InconsistentRequest("expected no consistency proof from size 0")
        if checkpoint.size == 0 and checkpoint.root_hash != EMPTY_ROOT:
            raise InconsistentRequest("expected the empty tree's root for size 0")
        return request, checkpoint

    def _check_extends(
        self,
        previous: WitnessedCheckpoint | None,
        request: AddCheckpointRequest,
        checkpoint: Checkpoint,
    ) -> None:
        """Raise unless `checkpoint` extends `previous` by the request's consistency proof."""
        latest_size = previous.size if previous else 0
        if checkpoint.size < latest_size:
            raise CheckpointConflict(
                f"rollback: checkpoint size {checkpoint.size} < latest cosigned {latest_size}",
                latest_size,
            )
        if request.old_size > checkpoint.size:
            raise MalformedRequest(
                f"old size {request.old_size} > checkpoint size {checkpoint.size}"
            )
        if request.old_size != latest_size:
            raise CheckpointConflict(
                f"old size {request.old_size} is not the latest cosigned {latest_size}",
                latest_size,
            )
        if previous is None or previous.size == 0:
            return  # the empty tree is consistent with any tree: no proof to check
        try:
            verify_consistency(
                previous.size, checkpoint.size, previous.root, checkpoint.root_hash, request.proof
            )
        except ProofError as exc:
            log.warning(
                "witness refuses %s at size %d, not consistent with size %d (%s):\n%s",
                checkpoint.origin,
                checkpoint.size,
                latest_size,
                exc,
                request.note,
            )
            raise CheckpointConflict(
                f"fork: not consistent with the latest cosigned size {latest_size}: {exc}",
                latest_size,
            ) from exc
