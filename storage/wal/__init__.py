"""The per-stream segmented write-ahead log (ARCHITECTURE §3 "WAL").

Records are opaque bytes. `WalWriter` appends them with group commit and acknowledges only after
fsync; the reader functions read a stream's directory, also from other processes.
"""

from storage.wal.checkpoint import WalCheckpoint, read_checkpoint
from storage.wal.errors import (
    EmptyRecordError,
    InvalidStreamNameError,
    RecordTooLargeError,
    WalClosedError,
    WalCorruptionError,
    WalError,
    WalFailedError,
    WalLockedError,
    WalPrunedError,
    WalStreamMismatchError,
)
from storage.wal.framing import MAX_RECORD_BYTES
from storage.wal.naming import stream_directory
from storage.wal.prune import PruneLimits, PruneResult, prune_shipped
from storage.wal.reader import (
    SegmentInfo,
    iter_records,
    list_segments,
    read_segment,
    sealed_segments_after,
)
from storage.wal.segment import parse_sealed_segment
from storage.wal.writer import CommitHook, WalWriter, WalWriterStats

__all__ = [
    "MAX_RECORD_BYTES",
    "CommitHook",
    "EmptyRecordError",
    "InvalidStreamNameError",
    "PruneLimits",
    "PruneResult",
    "RecordTooLargeError",
    "SegmentInfo",
    "WalCheckpoint",
    "WalClosedError",
    "WalCorruptionError",
    "WalError",
    "WalFailedError",
    "WalLockedError",
    "WalPrunedError",
    "WalStreamMismatchError",
    "WalWriter",
    "WalWriterStats",
    "iter_records",
    "list_segments",
    "parse_sealed_segment",
    "prune_shipped",
    "read_checkpoint",
    "read_segment",
    "sealed_segments_after",
    "stream_directory",
]
