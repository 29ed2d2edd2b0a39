"""Names inside a stream's WAL directory, and where a stream's directory lives.

A stream `<region>/<node>` keeps its segments in `<wal_dir>/<region>/<node>/`:

- `<first_seq:020d>.seg`  a sealed segment (immutable, fsync'd, safe to ship),
- `<first_seq:020d>.open` the one active segment, still growing,
- `stream`                the stream's name, so a directory cannot be reused for another stream,
- `writer.lock`           the `flock` that keeps a second writer out,
- `checkpoint.json`       the durable checkpoint: first retained seq (older segments were
                          pruned after shipping), sealed-through seq (start trusts segments up to
                          it without reading them), manifest chain head (see `checkpoint.py`),
- `checkpoint.lock`       the `flock` held around every read-modify-write of the checkpoint
                          (the writer and the pruner, in different processes, both write it).

Seqs are positional: the n-th record (0-based) of a segment named F has seq F + n.
"""

from __future__ import annotations

import re
from pathlib import Path

from ledger.stream_id import StreamId
from storage.wal.errors import InvalidStreamNameError

SEALED_SUFFIX = ".seg"
OPEN_SUFFIX = ".open"
LOCK_FILE_NAME = "writer.lock"
STREAM_FILE_NAME = "stream"
CHECKPOINT_FILE_NAME = "checkpoint.json"
CHECKPOINT_LOCK_NAME = "checkpoint.lock"

# Segment names are fixed width, so they sort like their first seqs.
SEQ_DIGITS = 20
_SEGMENT_NAME = re.compile(r"^(\d{20})\.(seg|open)$")


def segment_file_name(first_seq: int, *, sealed: bool) -> str:
    """Requires first_seq >= 1."""
    if first_seq < 1:
        raise ValueError(f"expected a first seq >= 1, got {first_seq}")
    return f"{first_seq:0{SEQ_DIGITS}d}{SEALED_SUFFIX if sealed else OPEN_SUFFIX}"


def looks_like_segment(name: str) -> bool:
    """True for every name ending like a segment, well-formed or not."""
    return name.endswith((SEALED_SUFFIX, OPEN_SUFFIX))


def parse_segment_file_name(name: str) -> tuple[int, bool] | None:
    """`(first_seq, sealed)` for a well-formed segment name, None for anything else."""
    match = _SEGMENT_NAME.match(name)
    if match is None:
        return None
    first_seq = int(match.group(1))
    if first_seq < 1:
        return None
    return first_seq, match.group(2) == "seg"


def check_stream_name(stream: str) -> StreamId:
    """The stream named `<region>/<node>` by `stream`; raises InvalidStreamNameError."""
    try:
        return StreamId.parse(stream)
    except ValueError as exc:
        raise InvalidStreamNameError(str(exc)) from None


def stream_directory(wal_dir: Path, stream: str) -> Path:
    """Where stream `<region>/<node>` keeps its segments under a region's `wal_dir`."""
    parsed = check_stream_name(stream)
    return wal_dir / parsed.region / parsed.node
