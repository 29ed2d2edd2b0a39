"""Submitting a checkpoint to a witness (C2SP tlog-witness add-checkpoint) over HTTP.

A 409 says which size the witness last cosigned. When that size is at most ours, the witness
missed checkpoints (or we did not know its size): we re-send once with a consistency proof from
its size, so it catches up in one step. When it is larger than ours, or the witness refuses again
at the very size it asked for, our log and what the witness saw cannot both be right:
AuditForkDetected, which is never retried. Anything else that goes wrong is WitnessFailed, which
counts against the witness's circuit breaker (storage/audit/witness_health.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx

from ledger.audit_config import WitnessConfig
from ledger.checkpoint import parse_checkpoint
from ledger.cosignature import verify_cosignature
from ledger.errors import NoteError
from ledger.signed_note import split_note
from ledger.witness_protocol import (
    ADD_CHECKPOINT_PATH,
    TLOG_SIZE_CONTENT_TYPE,
    build_add_checkpoint,
    parse_size,
)
from storage.audit.errors import AuditForkDetected, WitnessFailed

ProofFrom = Callable[[int], Awaitable[Sequence[bytes]]]
"""The consistency proof from an older size to the submitted checkpoint's size."""


@dataclass(frozen=True)
class WitnessTarget:
    """Where a witness is and the key its cosignatures must verify under."""

    name: str
    url: str  # the submission prefix
    vkey: str  # cosigner verifier key (type 0x04)
    timeout_s: float

    @classmethod
    def from_config(cls, name: str, witness: WitnessConfig, vkey: str) -> WitnessTarget:
        """The target of `[witnesses.<name>]`, with its cosigner key (witness_keys)."""
        return cls(name, witness.base_url, vkey, witness.timeout_s)


class _Refused(Exception):
    """The witness answered 409 with its latest size."""

    def __init__(self, size: int) -> None:
        self.size = size


async def submit_checkpoint(
    witness: WitnessTarget,
    note: str,
    old_size: int,
    proof: Sequence[bytes],
    *,
    proof_from: ProofFrom | None = None,
    client: httpx.AsyncClient | None = None,
) -> str:
    """The witness's cosignature line (verified) on the checkpoint `note`, sent with the
    consistency `proof` from `old_size`. On a 409 naming a size <= ours, re-sends once with
    `await proof_from(size)`.

    Raises AuditForkDetected as the module says, WitnessFailed for everything else.
    """
    try:
        body = parse_checkpoint(split_note(note)[0])
    except NoteError as exc:
        raise WitnessFailed(witness.name, f"not a checkpoint note: {exc}") from exc
    async with AsyncExitStack() as stack:
        http = client
        if http is None:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=witness.timeout_s))
        try:
            return await _send(http, witness, note, old_size, proof)
        except _Refused as refused:
            asked = refused.size
        if asked > body.size or asked == old_size:
            raise AuditForkDetected(witness.name, body.origin, body.size, asked)
        if proof_from is None:
            raise WitnessFailed(witness.name, f"asks for a proof from size {asked}")
        try:
            return await _send(http, witness, note, asked, await proof_from(asked))
        except _Refused as again:
            raise AuditForkDetected(witness.name, body.origin, body.size, again.size) from None


async def _send(
    http: httpx.AsyncClient, witness: WitnessTarget, note: str, old: int, proof: Sequence[bytes]
) -> str:
    try:
        answer = await http.post(
            witness.url + ADD_CHECKPOINT_PATH, content=build_add_checkpoint(old, proof, note)
        )
    except httpx.HTTPError as exc:
        raise WitnessFailed(witness.name, f"unreachable: {exc!r}") from exc
    if answer.status_code == 409:
        if not answer.headers.get("content-type", "").startswith(TLOG_SIZE_CONTENT_TYPE):
            raise WitnessFailed(witness.name, "409 without a text/x.tlog.size body")
        try:
            raise _Refused(parse_size(answer.text))
        except NoteError as exc:
            raise WitnessFailed(witness.name, f"409 with a bad size: {exc}") from exc
    if answer.status_code != 200:
        raise WitnessFailed(witness.name, f"HTTP {answer.status_code}: {answer.text[:200]!r}")
    return _verified_line(witness, note, answer.text)


def _verified_line(witness: WitnessTarget, note: str, answer: str) -> str:
    """The one line of the answer that is the witness's valid cosignature of `note`."""
    text = split_note(note)[0]
    for line in answer.splitlines(keepends=True):
        try:
            verify_cosignature(line, text, witness.vkey)
        except NoteError:
            continue  # other keys' lines are ignored (tlog-witness: the client MUST)
        return line if line.endswith("\n") else line + "\n"
    raise WitnessFailed(witness.name, f"no valid cosignature in its answer {answer[:200]!r}")
