"""C2SP tlog-checkpoint v1 (c2sp.org/tlog-checkpoint): the note text of a Merkle tree head.

    <origin>\\n<tree size>\\n<base64 RFC 6962 root>\\n[<extension line>\\n ...]

The log signs it as a signed note (ledger/signed_note.py) under a key named after the origin;
witnesses add cosignatures (ledger/cosignature.py).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.errors import MalformedNoteError
from ledger.signed_note import OpenedNote, Verifier, decode_base64, open_note

ROOT_HASH_BYTES = 32
_SIZE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Checkpoint:
    """A log's origin, tree size and root hash, with optional (opaque) extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise MalformedNoteError(f"expected a non-empty one-line origin, got {self.origin!r}")
        if self.size < 0:
            raise MalformedNoteError(f"expected a tree size >= 0, got {self.size}")
        if len(self.root_hash) != ROOT_HASH_BYTES:
            raise MalformedNoteError(
                f"expected a {ROOT_HASH_BYTES}-byte root hash, got {len(self.root_hash)} bytes"
            )
        if any(not line or "\n" in line for line in self.extensions):
            raise MalformedNoteError("expected non-empty one-line extension lines")

    def body(self) -> str:
        """The note text (tlog-checkpoint §Note text), final newline included."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "".join(f"{line}\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint whose note text is `text` (signature lines excluded); strict: exactly what
    `Checkpoint.body` produces, else MalformedNoteError."""
    if not text.endswith("\n"):
        raise MalformedNoteError("expected checkpoint text ending in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedNoteError(f"expected origin, size and root lines, got {len(lines)} lines")
    origin, size, root, *extensions = lines
    if not _SIZE.fullmatch(size):
        raise MalformedNoteError(
            f"expected a decimal tree size without leading zeros, got {size!r}"
        )
    return Checkpoint(origin, int(size), decode_base64(root, "root hash"), tuple(extensions))


def open_checkpoint(note: str, verifiers: Sequence[Verifier]) -> tuple[Checkpoint, OpenedNote]:
    """The checkpoint of a signed note a trusted key signed, and the opened note; raises what
    `open_note` and `parse_checkpoint` raise."""
    opened = open_note(note, verifiers)
    return parse_checkpoint(opened.text), opened


def note_origin(note: str) -> str:
    """The origin line of a checkpoint note, read before any signature is checked (a witness
    picks the verifiers by it)."""
    origin, _, rest = note.partition("\n")
    if not origin or not rest:
        raise MalformedNoteError("expected a checkpoint note starting with its origin line")
    return origin
