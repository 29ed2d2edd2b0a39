"""Reading a stream's WAL directory, also from another process while its writer runs.

Readers never modify files. Sealed segments are immutable, so reading them needs no
coordination. The open segment grows under the reader: it is read up to its last complete
valid frame, so a frame the writer is still writing is simply not seen yet. Records of the open
segment may not be fsync'd yet (the writer acknowledges after the fsync); consumers that must
only see durable records (CRR) read sealed segments only.

Shipped segments are pruned under readers (`prune.py`): the checkpoint's first retained seq
moves first, then the files go. A reader therefore lists the directory *before* it reads the
checkpoint, so its listing holds every segment the checkpoint says is retained; files below that
seq are ignored. Asking for records that were pruned raises WalPrunedError, also when a segment
disappears while it is being read.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from storage.wal.checkpoint import WalCheckpoint, read_checkpoint
from storage.wal.errors import WalCorruptionError, WalPrunedError
from storage.wal.naming import (
    OPEN_SUFFIX,
    SEALED_SUFFIX,
    SEQ_DIGITS,
    parse_segment_file_name,
    segment_file_name,
)
from storage.wal.segment import parse_open_segment, parse_sealed_segment

# How often a listing raced by a prune is taken again before the race is reported as damage.
_RESCANS = 10


@dataclass(frozen=True)
class SegmentInfo:
    """One retained segment file of a stream, with its seqs when it is sealed."""

    path: Path
    first_seq: int
    sealed: bool
    # Known for sealed segments; None for the open one, which is still growing.
    last_seq: int | None = None
    records: int | None = None


@dataclass(frozen=True)
class StreamLayout:
    """What a stream's directory holds: its checkpoint, segment names and leftovers of a prune."""

    checkpoint: WalCheckpoint
    # Names of the retained sealed segments, sorted (fixed-width names sort like their seqs).
    sealed: list[str]
    open_name: str | None
    # Names of sealed segments below the first retained seq (a prune stopped before deleting).
    leftovers: list[str]

    def segments_from(self, seq: int) -> list[tuple[int, bool, str]]:
        """`(first_seq, sealed, name)` of the segment holding `seq` (when one is retained) and
        of every later one, the open segment last."""
        probe = segment_file_name(max(seq, 1), sealed=True)
        start = max(0, bisect.bisect_right(self.sealed, probe) - 1)
        found = [(first_seq_of(name), True, name) for name in self.sealed[start:]]
        if self.open_name is not None:
            found.append((first_seq_of(self.open_name), False, self.open_name))
        return found


def first_seq_of(name: str) -> int:
    """The first seq of a segment name `scan_stream` accepted."""
    return int(name[:SEQ_DIGITS])


def scan_stream(directory: Path) -> StreamLayout:
    """The retained segments of `directory` with its checkpoint, layout-checked.

    This runs on every listing (the shipper's poll included) over everything the retention
    keeps (about 14,400 segments for an hour of 0.25 s segments), so it works on the fixed-width
    names as strings, which sort like their seqs, and builds nothing per segment. Raises
    WalCorruptionError for a malformed segment name, two open segments, an open segment that is
    not the newest, two segments with one first seq, and a first retained segment that does not
    start at the checkpoint's first retained seq (seqs missing).
    """
    names, checkpoint = _list_with_checkpoint(directory)
    sealed = [name for name in names if name.endswith(SEALED_SUFFIX)]
    open_names = [name for name in names if name.endswith(OPEN_SUFFIX)]
    _check_names(directory, sealed, SEALED_SUFFIX)
    _check_names(directory, open_names, OPEN_SUFFIX)
    sealed.sort()
    first_retained = checkpoint.first_retained_seq
    retained_from = bisect.bisect_left(sealed, segment_file_name(first_retained, sealed=True))
    leftovers, sealed = sealed[:retained_from], sealed[retained_from:]
    if len(open_names) > 1:
        raise WalCorruptionError(
            directory,
            None,
            f"expected at most one open segment, got {len(open_names)}: "
            f"{', '.join(sorted(open_names))}",
        )
    open_name = open_names[0] if open_names else None
    if open_name is not None:
        twin = open_name.removesuffix(OPEN_SUFFIX) + SEALED_SUFFIX
        if twin in names:
            raise WalCorruptionError(
                directory / open_name,
                None,
                f"expected one segment per first seq, but {twin} also exists",
            )
        if sealed and sealed[-1] > twin:
            raise WalCorruptionError(
                directory / open_name,
                None,
                f"expected the open segment to be the newest, but {sealed[-1]} is newer",
            )
    oldest = sealed[0] if sealed else open_name
    _check_first_retained(directory, oldest, first_retained)
    return StreamLayout(checkpoint, sealed, open_name, leftovers)


_NAMES = {
    suffix: re.compile(rf"(?:\d{{{SEQ_DIGITS}}}{re.escape(suffix)}\n)*", re.ASCII)
    for suffix in (SEALED_SUFFIX, OPEN_SUFFIX)
}


def _check_names(directory: Path, names: list[str], suffix: str) -> None:
    """Raise unless every name (all ending in `suffix`) is `<20 digits><suffix>` with a seq >= 1.

    One regex match over all names at once: a match per name costs more than the listing.
    """
    listed = "".join(f"{name}\n" for name in names)
    if _NAMES[suffix].fullmatch(listed) is not None and "0" * SEQ_DIGITS + suffix not in names:
        return
    for name in names:
        if parse_segment_file_name(name) is None:
            raise WalCorruptionError(
                directory / name, None, "expected a segment name <20 digits>.seg|.open"
            )


def _list_with_checkpoint(directory: Path) -> tuple[list[str], WalCheckpoint]:
    """The directory's names and a checkpoint that was current for the whole listing.

    The names are listed before the checkpoint is read (see the module docstring). A prune whose
    checkpoint lands during the listing can make an open segment listed under its old name look
    pruned (sealed and deleted since), so the listing is taken again until no prune moved the
    first retained seq across it: prunes run minutes apart, so once is the rule.
    """
    for _ in range(_RESCANS):
        before = read_checkpoint(directory).first_retained_seq
        names = os.listdir(directory)
        checkpoint = read_checkpoint(directory)
        if checkpoint.first_retained_seq == before:
            break
    return names, checkpoint


def _check_first_retained(directory: Path, oldest: str | None, first_retained: int) -> None:
    if oldest is not None and first_seq_of(oldest) != first_retained:
        oldest_seq = first_seq_of(oldest)
        if first_retained == 1:
            expected = "the first segment to start at seq 1"
        else:
            expected = (
                f"the first retained segment to start at seq {first_retained} (the checkpoint's "
                f"first retained seq)"
            )
        raise WalCorruptionError(
            directory / oldest,
            None,
            f"expected {expected}, got {oldest_seq}: seqs {first_retained}..{oldest_seq - 1} "
            f"are missing",
        )
    if oldest is None and first_retained > 1:
        # Pruning never deletes the newest sealed segment, so a pruned directory is never empty.
        raise WalCorruptionError(
            directory,
            None,
            f"expected segments from seq {first_retained} on (the checkpoint's first retained "
            f"seq), got none: the newest segments are missing",
        )


def _segments_after(directory: Path, after_seq: int) -> tuple[WalCheckpoint, list[SegmentInfo]]:
    """The checkpoint, and the retained sealed segments holding a seq > `after_seq`, then the
    open segment if any.

    A sealed segment's last seq is one less than the next segment's first seq (seqs are
    gap-free), so only the newest sealed segment, when no open segment follows it, is read to
    count its records. Whether the counts really match is checked when segments are read
    (`iter_records`) and when a writer opens the directory.
    """
    for attempt in range(_RESCANS):
        try:
            return _segments_after_once(directory, after_seq)
        except FileNotFoundError:
            # The newest sealed segment was pruned after the listing (newer ones were sealed
            # meanwhile): list again.
            if attempt + 1 == _RESCANS:
                raise
    raise AssertionError("unreachable")


def _segments_after_once(
    directory: Path, after_seq: int
) -> tuple[WalCheckpoint, list[SegmentInfo]]:
    layout = scan_stream(directory)
    found = layout.segments_from(after_seq + 1)
    infos: list[SegmentInfo] = []
    for index, (first_seq, sealed, name) in enumerate(found):
        if not sealed:
            infos.append(SegmentInfo(directory / name, first_seq, sealed=False))
        elif index + 1 < len(found):
            last_seq = found[index + 1][0] - 1
            if last_seq > after_seq:
                infos.append(_sealed_info(directory / name, first_seq, last_seq))
        else:
            path = directory / name
            last_seq = first_seq + len(parse_sealed_segment(path, path.read_bytes())) - 1
            if last_seq > after_seq:
                infos.append(_sealed_info(path, first_seq, last_seq))
    return layout.checkpoint, infos


def _sealed_info(path: Path, first_seq: int, last_seq: int) -> SegmentInfo:
    return SegmentInfo(path, first_seq, True, last_seq, last_seq - first_seq + 1)


def list_segments(directory: Path) -> list[SegmentInfo]:
    """Every segment of the stream in `directory`, oldest first; the open one (if any) last.

    Cheap: only the newest sealed segment is read, and only when no open segment follows it.
    """
    return _segments_after(directory, 0)[1]


def sealed_segments_after(directory: Path, after_seq: int) -> list[SegmentInfo]:
    """The sealed segments holding at least one seq greater than `after_seq`, oldest first."""
    return [info for info in _segments_after(directory, after_seq)[1] if info.sealed]


def _first_seq_from_path(path: Path) -> int:
    parsed = parse_segment_file_name(path.name)
    if parsed is None:
        raise WalCorruptionError(path, None, "expected a segment name <20 digits>.seg|.open")
    return parsed[0]


def read_segment(path: Path) -> list[tuple[int, bytes]]:
    """`(seq, record)` of every record of a sealed segment; any bad frame is a hard error."""
    first_seq = _first_seq_from_path(path)
    records = parse_sealed_segment(path, path.read_bytes())
    return [(first_seq + index, record) for index, record in enumerate(records)]


def _read_open_segment(info: SegmentInfo) -> list[bytes]:
    """The complete valid records of the open segment, or of the sealed segment it became if
    the writer sealed it after we listed the directory."""
    try:
        data = info.path.read_bytes()
    except FileNotFoundError:
        sealed_path = info.path.with_name(segment_file_name(info.first_seq, sealed=True))
        return parse_sealed_segment(sealed_path, sealed_path.read_bytes())
    return parse_open_segment(info.path, data).records


def iter_records(
    directory: Path, after_seq: int = 0, include_open: bool = True
) -> Iterator[tuple[int, bytes]]:
    """`(seq, record)` for every seq > `after_seq`, in seq order: the sealed segments, then the
    open one up to its last complete valid frame.

    Never yields part of a record and never modifies a file. Stops at a torn tail of the open
    segment; raises WalCorruptionError for a bad frame in a sealed segment, for a bad frame
    followed by valid ones in the open segment, and when a sealed segment's record count does
    not reach the next segment's first seq (a gap); raises WalPrunedError when records after
    `after_seq` were pruned (before the call or while reading).
    """
    checkpoint, infos = _segments_after(directory, after_seq)
    if after_seq < checkpoint.first_retained_seq - 1:
        raise WalPrunedError(directory, after_seq, checkpoint.first_retained_seq)
    for info in infos:
        if info.sealed:
            assert info.last_seq is not None and info.records is not None
            records = _read_retained_segment(directory, info, after_seq)
            if len(records) != info.records:
                raise WalCorruptionError(
                    info.path,
                    None,
                    f"expected {info.records} records (seqs {info.first_seq}..{info.last_seq}, "
                    f"as the next segment starts at {info.last_seq + 1}), got {len(records)}",
                )
            yield from ((seq, record) for seq, record in records if seq > after_seq)
        elif include_open:
            for index, record in enumerate(_read_open_segment(info)):
                if info.first_seq + index > after_seq:
                    yield info.first_seq + index, record


def _read_retained_segment(
    directory: Path, info: SegmentInfo, after_seq: int
) -> list[tuple[int, bytes]]:
    """`read_segment`, telling a segment pruned since the listing from a missing one."""
    try:
        return read_segment(info.path)
    except FileNotFoundError:
        first_retained = read_checkpoint(directory).first_retained_seq
        if first_retained > info.first_seq:
            raise WalPrunedError(directory, after_seq, first_retained) from None
        raise WalCorruptionError(
            info.path,
            None,
            f"expected this retained segment (the checkpoint keeps seqs from {first_retained} "
            f"on) to exist, but it disappeared",
        ) from None
