"""Merging one dedup key's state on two shards, as re-sharding needs it while ingest keeps
writing: a key's new shard can be behind its old one (records applied after the key was copied)
or ahead of it (records applied to the new ring only), and copying must bring it to the union.

A key's state on a shard is its winner row and its copies (dedup_events and dedup_copies); its
record set is the winner's record and the copies. By invariant I3 (ARCHITECTURE §1) the state
of a set of records does not depend on how it was applied: the winner is the earliest record by
(hlc, region, node, seq), every other record a copy. So merge(source, target) is the state of the
union of both record sets, and merging any states in any order, any number of times, ends in
the same state. The winner row (every column, body as stored) is taken from a side that holds
that record as its winner; when both do, from the source: the copy exists to reproduce the
source's rows, so a body the source demoted after the key was copied reaches the target with the
catch-up copy.

A record is named by its stream position (region, node, seq): two records with the same name but
a different hlc or digest are not two records of one key but one record told two ways, which no
order can merge. Such a key is a MergeConflict and is left as it is.

Pure: no I/O. storage/dedup/reshard/copy.py applies the writes a merge asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ledger.order import WinnerKey

RecordName = tuple[str, str, int]
"""A record's stream position, `(region, node, seq)`: unique per record across every region."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One WAL record of a key as the dedup tables hold it (a winner's or a copy's columns)."""

    region: str
    node: str
    seq: int
    hlc: int
    digest: bytes

    @property
    def name(self) -> RecordName:
        """The record's stream position, which names it."""
        return (self.region, self.node, self.seq)

    @property
    def order(self) -> WinnerKey:
        """The record's place in the winner order of I3."""
        return WinnerKey(self.hlc, self.region, self.node, self.seq)


@dataclass(frozen=True, slots=True)
class KeyOnShard:
    """A key's state on one shard: its `winner` record with the winner `row` as stored (any
    value that is equal exactly when two rows are: the caller's hashes of the columns and the
    body as stored), and its `copies`. `winner` None: copies without a key row."""

    winner: KeyRecord | None
    row: object
    copies: frozenset[KeyRecord] = frozenset()

    @property
    def records(self) -> frozenset[KeyRecord]:
        """The key's record set on this shard: the winner's record and the copies."""
        return self.copies if self.winner is None else self.copies | {self.winner}


class WinnerRowWrite(Enum):
    """What a merge does to the target's winner row."""

    KEEP = "keep"
    """The target's row is the merged winner's row already."""
    INSERT = "insert"
    """The target has no row for the key: insert the source's."""
    REPLACE = "replace"
    """The target's row is another record's, or the same record's stored otherwise: replace it
    with the source's."""


@dataclass(frozen=True, slots=True)
class MergeWrite:
    """What to write on the target to bring a key to `state`, the merge of both sides: the
    winner row (taken from the source when it is not kept), the copies to insert (the source's
    records the target lacks, and a winner the merge displaced), and the copy rows to delete
    (the record that became the winner)."""

    state: KeyOnShard
    winner_row: WinnerRowWrite
    insert_copies: frozenset[KeyRecord]
    delete_copies: frozenset[KeyRecord]

    @property
    def nothing(self) -> bool:
        """True when the target holds the merged state already."""
        return (
            self.winner_row is WinnerRowWrite.KEEP
            and not self.insert_copies
            and not self.delete_copies
        )


@dataclass(frozen=True, slots=True)
class MergeConflict:
    """A key whose sides cannot be merged; `records` are those at fault, `reason` says why."""

    records: tuple[KeyRecord, ...]
    reason: str


def merge(source: KeyOnShard | None, target: KeyOnShard | None) -> MergeWrite | MergeConflict:
    """The state of the union of `source`'s and `target`'s record sets (I3, ARCHITECTURE §1) and
    what to write on the target to reach it; None is a shard without the key.

    A conflict when two records share a name but differ, or when no side holds the union's
    earliest record as its winner (a copy earlier than its shard's winner: a broken shard).
    Requires at least one side; raises ValueError otherwise.
    """
    sides = [side for side in (source, target) if side is not None]
    if not sides:
        raise ValueError("expected the key on at least one shard, got it on none")
    by_name: dict[RecordName, KeyRecord] = {}
    clashing: set[KeyRecord] = set()
    for side in sides:
        for record in side.records:
            held = by_name.setdefault(record.name, record)
            if held != record:
                clashing |= {held, record}
    if clashing:
        return MergeConflict(
            tuple(sorted(clashing, key=lambda r: r.order)), "one stream position, two records"
        )
    winner = min(by_name.values(), key=lambda r: r.order)
    holder = next((side for side in sides if side.winner == winner), None)
    if holder is None:
        return MergeConflict((winner,), "the earliest record is no shard's winner row")
    state = KeyOnShard(winner, holder.row, frozenset(by_name.values()) - {winner})
    return _write_to_reach(state, target)


def _write_to_reach(state: KeyOnShard, target: KeyOnShard | None) -> MergeWrite:
    """The writes that bring `target` to `state` (whose records include all of target's)."""
    if target is None:
        return MergeWrite(state, WinnerRowWrite.INSERT, state.copies, frozenset())
    if target.winner is None:
        winner_row = WinnerRowWrite.INSERT
    elif (target.winner, target.row) == (state.winner, state.row):
        winner_row = WinnerRowWrite.KEEP
    else:
        winner_row = WinnerRowWrite.REPLACE
    return MergeWrite(state, winner_row, state.copies - target.copies, target.copies - state.copies)
