"""How a key on its new shard compares with the same key on its old shard while ingest keeps
writing, from their states (rows.KeyState): equal; behind (the new shard lacks records the old
one has: written after the key was copied, which the catch-up copy brings); ahead (the new shard
has records the old one lacks: dual writes that reached it first, or writes after cutover, which
go to the new ring only); or a mismatch, which no write in flight explains.
"""

from __future__ import annotations

from enum import Enum

from storage.dedup.reshard.rows import KeyState


class KeyRelation(Enum):
    """A key's state on its new shard beside its state on its old shard."""

    EQUAL = "equal"
    BEHIND = "behind"
    AHEAD = "ahead"
    MISMATCH = "mismatch"


def relation(source: KeyState | None, target: KeyState | None) -> KeyRelation:
    """How `target` (the new shard's state of a key, None: not there) compares with `source`
    (the old shard's): equal states; behind when the target's records are a strict subset of
    the source's, ahead when a strict superset; a mismatch otherwise (records on both sides
    the other lacks, the same records in another winner row or body as stored, copies without
    a key row)."""
    if source == target:
        return KeyRelation.EQUAL
    if not _whole(source) or not _whole(target):
        return KeyRelation.MISMATCH
    held = frozenset[int]() if source is None else source.records
    there = frozenset[int]() if target is None else target.records
    if there < held:
        return KeyRelation.BEHIND
    if there > held:
        return KeyRelation.AHEAD
    return KeyRelation.MISMATCH


def covers(target: KeyState | None, held: KeyState) -> bool:
    """True when `target` (the new shard's state of a key) holds everything `held` (the old
    shard's) does, so the old one may go: a superset of its records, and when the winner is the
    same record, the same winner row and body as stored."""
    if target is None or not target.has_row or not target.records >= held.records:
        return False
    return target.winner != held.winner or (target.row, target.body) == (held.row, held.body)


def _whole(state: KeyState | None) -> bool:
    """False for copies without a key row (a key not there at all is whole: empty)."""
    return state is None or state.has_row
