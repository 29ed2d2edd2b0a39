"""C2SP tlog-witness add-checkpoint (c2sp.org/tlog-witness): the request body and the 409 body.

Request (every line newline-terminated):

    old <size the client believes the witness last cosigned>
    <base64 consistency proof hash>      (0 to 63 lines; none when old is 0)
    <empty line>
    <the signed checkpoint note>

A 409 answer carries the witness's latest cosigned size, "<decimal>\\n", as text/x.tlog.size.
`GET /<hex SHA-256 of the origin>/checkpoint` serves the latest cosigned checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.errors import MalformedNoteError
from ledger.signed_note import decode_base64

ADD_CHECKPOINT_PATH = "/add-checkpoint"
TLOG_SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
HASH_BYTES = 32
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")
_SIZE_BODY = re.compile(r"(0|[1-9][0-9]*)\n")


@dataclass(frozen=True)
class AddCheckpointRequest:
    """An add-checkpoint request: the old size, the consistency proof from it, the note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


def build_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The request body; raises MalformedNoteError for arguments the witness would refuse
    (negative size, a proof longer than 63 hashes or of hashes not 32 bytes long)."""
    if old_size < 0:
        raise MalformedNoteError(f"expected an old size >= 0, got {old_size}")
    _check_proof(proof)
    lines = [f"old {old_size}\n", *(base64.b64encode(h).decode("ascii") + "\n" for h in proof)]
    return ("".join(lines) + "\n" + note).encode()


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """The request in `body`; strict (what `build_add_checkpoint` produces), else
    MalformedNoteError. The note itself is only split off here, not checked."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNoteError("expected a UTF-8 request body") from None
    head, separator, note = text.partition("\n\n")
    if not separator or not note:
        raise MalformedNoteError("expected the old size and proof lines, a blank line, a note")
    old_line, *proof_lines = head.split("\n")
    old = _OLD_LINE.fullmatch(old_line)
    if old is None:
        raise MalformedNoteError(f"expected 'old <size>', got {old_line!r}")
    proof = tuple(decode_base64(line, "consistency proof line") for line in proof_lines)
    _check_proof(proof)
    return AddCheckpointRequest(int(old[1]), proof, note)


def origin_hash(origin: str) -> str:
    """The lowercase hex SHA-256 of a log's origin, which names it in monitor retrieval."""
    return hashlib.sha256(origin.encode()).hexdigest()


def checkpoint_path(origin: str) -> str:
    """Where a witness serves its latest cosigned checkpoint of `origin` (tlog-witness, monitor
    retrieval)."""
    return f"/{origin_hash(origin)}/checkpoint"


def format_size(size: int) -> str:
    """A text/x.tlog.size body."""
    return f"{size}\n"


def parse_size(body: str) -> int:
    """The size in a text/x.tlog.size body; raises MalformedNoteError for anything else."""
    match = _SIZE_BODY.fullmatch(body)
    if match is None:
        raise MalformedNoteError(f"expected a decimal size and a newline, got {body[:40]!r}")
    return int(match[1])


def _check_proof(proof: Sequence[bytes]) -> None:
    if len(proof) > MAX_PROOF_LINES:
        raise MalformedNoteError(
            f"expected at most {MAX_PROOF_LINES} proof lines, got {len(proof)}"
        )
    if any(len(h) != HASH_BYTES for h in proof):
        raise MalformedNoteError(f"expected {HASH_BYTES}-byte proof hashes")
