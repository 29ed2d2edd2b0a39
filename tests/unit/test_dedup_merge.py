"""`ledger.dedup_merge`: a key's state on two shards merges to the state of the union of their
records (I3), whatever the order and however often states are merged; the writes it asks for
bring the target exactly there; a record told two ways is a conflict in every order."""

from __future__ import annotations

from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.dedup_merge import (
    KeyOnShard,
    KeyRecord,
    MergeConflict,
    MergeWrite,
    WinnerRowWrite,
    merge,
)

# Deterministic: the same examples every run, as a unit test must be.
EXAMPLES = settings(max_examples=300, derandomize=True, database=None, deadline=None)

FIRST = KeyRecord("us", "n1", 1, hlc=100, digest=b"a" * 32)
DUPLICATE = KeyRecord("us", "n2", 1, hlc=200, digest=b"a" * 32)
OTHER = KeyRecord("eu", "n1", 7, hlc=300, digest=b"b" * 32)
EARLIER = KeyRecord("eu", "n3", 2, hlc=50, digest=b"c" * 32)


def row(record: KeyRecord, stored: str = "hot") -> tuple[object, ...]:
    """A winner row as stored: the record's, its body in one tier."""
    return (record.name, stored)


def on_shard(*records: KeyRecord) -> KeyOnShard:
    """The state a shard reaches by applying `records`: the earliest wins, its row hot."""
    winner = min(records, key=lambda r: r.order)
    return KeyOnShard(winner, row(winner), frozenset(records) - {winner})


def written(target: KeyOnShard | None, write: MergeWrite) -> KeyOnShard:
    """`target` after `write`, applied row by row as copy_chunk applies it."""
    copies = set() if target is None else set(target.copies)
    copies = (copies - write.delete_copies) | write.insert_copies
    if write.winner_row is WinnerRowWrite.KEEP:
        assert target is not None
        return KeyOnShard(target.winner, target.row, frozenset(copies))
    return KeyOnShard(write.state.winner, write.state.row, frozenset(copies))


def merged(source: KeyOnShard | None, target: KeyOnShard | None) -> MergeWrite:
    write = merge(source, target)
    assert isinstance(write, MergeWrite), write
    assert written(target, write) == write.state
    return write


def test_a_target_behind_gets_the_records_it_lacks() -> None:
    write = merged(on_shard(FIRST, DUPLICATE, OTHER), on_shard(FIRST))
    assert write.winner_row is WinnerRowWrite.KEEP
    assert write.insert_copies == {DUPLICATE, OTHER} and not write.delete_copies
    assert write.state == on_shard(FIRST, DUPLICATE, OTHER)


def test_an_earlier_record_on_the_source_takes_over_the_winner_row() -> None:
    write = merged(on_shard(EARLIER, FIRST), on_shard(FIRST, DUPLICATE))
    assert write.winner_row is WinnerRowWrite.REPLACE
    assert write.state.winner == EARLIER and write.state.row == row(EARLIER)
    # The displaced winner is a copy now, beside the copies each side had.
    assert write.insert_copies == {FIRST} and write.state.copies == {FIRST, DUPLICATE}


def test_a_target_ahead_is_left_as_it_is() -> None:
    ahead = on_shard(EARLIER, FIRST, DUPLICATE)
    assert merged(on_shard(FIRST, DUPLICATE), ahead).nothing
    assert merged(on_shard(FIRST), ahead).state == ahead


def test_the_same_winner_stored_otherwise_takes_the_source_row() -> None:
    demoted = KeyOnShard(FIRST, row(FIRST, "warm"), frozenset({DUPLICATE}))
    write = merged(demoted, on_shard(FIRST, DUPLICATE))
    assert write.winner_row is WinnerRowWrite.REPLACE and write.state == demoted
    assert not write.insert_copies and not write.delete_copies


def test_a_key_new_to_the_target_is_inserted_whole() -> None:
    write = merged(on_shard(FIRST, OTHER), None)
    assert write.winner_row is WinnerRowWrite.INSERT and write.insert_copies == {OTHER}


def test_a_copy_that_becomes_the_winner_loses_its_copy_row() -> None:
    copies_only = KeyOnShard(None, None, frozenset({FIRST, OTHER}))
    write = merged(on_shard(FIRST), copies_only)
    assert write.winner_row is WinnerRowWrite.INSERT
    assert write.delete_copies == {FIRST} and not write.insert_copies
    assert write.state == on_shard(FIRST, OTHER)


@pytest.mark.parametrize(
    "retold",
    [
        KeyRecord("us", "n1", 1, hlc=101, digest=FIRST.digest),
        KeyRecord("us", "n1", 1, hlc=FIRST.hlc, digest=b"z" * 32),
    ],
    ids=["other hlc", "other digest"],
)
def test_one_stream_position_told_two_ways_is_a_conflict(retold: KeyRecord) -> None:
    for source, target in [
        (on_shard(FIRST, OTHER), on_shard(retold)),
        (on_shard(EARLIER, FIRST), on_shard(retold, OTHER)),
        (on_shard(retold, DUPLICATE), on_shard(FIRST, DUPLICATE)),
    ]:
        for pair in [(source, target), (target, source)]:
            conflict = merge(*pair)
            assert isinstance(conflict, MergeConflict), pair
            assert set(conflict.records) == {FIRST, retold}


def test_a_copy_earlier_than_every_winner_is_a_conflict() -> None:
    broken = KeyOnShard(FIRST, row(FIRST), frozenset({EARLIER}))
    conflict = merge(on_shard(FIRST), broken)
    assert isinstance(conflict, MergeConflict) and conflict.records == (EARLIER,)


def test_a_key_on_no_shard_is_refused() -> None:
    with pytest.raises(ValueError, match="on none"):
        merge(None, None)


# Records of one key: distinct stream positions, each with one hlc and digest.
records = st.lists(
    st.builds(
        KeyRecord,
        region=st.sampled_from(["eu", "us"]),
        node=st.sampled_from(["n1", "n2"]),
        seq=st.integers(0, 3),
        hlc=st.integers(0, 5),
        digest=st.sampled_from([b"a" * 32, b"b" * 32]),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda r: r.name,
)


@st.composite
def shard_states(draw: st.DrawFn) -> tuple[frozenset[KeyRecord], list[KeyOnShard]]:
    """A key's records and 1-4 shards, each holding a non-empty subset of them."""
    held = draw(records)
    subsets = st.lists(st.sampled_from(held), min_size=1, unique=True)
    shards = draw(st.lists(subsets, min_size=1, max_size=4))
    return frozenset(held), [on_shard(*subset) for subset in shards]


@EXAMPLES
@given(shard_states(), st.data())
def test_merging_in_any_order_gives_the_state_of_the_union(
    drawn: tuple[frozenset[KeyRecord], list[KeyOnShard]], data: st.DataObject
) -> None:
    _, shards = drawn
    union = on_shard(*frozenset[KeyRecord]().union(*(s.records for s in shards)))
    order = data.draw(st.permutations(shards + shards))

    def into(target: KeyOnShard | None, source: KeyOnShard) -> KeyOnShard:
        return merged(source, target).state

    assert reduce(into, shards, None) == union
    assert reduce(into, order, None) == union


@EXAMPLES
@given(shard_states())
def test_merging_is_symmetric_and_a_repeat_writes_nothing(
    drawn: tuple[frozenset[KeyRecord], list[KeyOnShard]],
) -> None:
    _, shards = drawn
    source, target = shards[0], shards[-1]
    state = merged(source, target).state
    assert merged(target, source).state == state
    assert merged(source, state).nothing
    assert merged(target, state).nothing
    assert merged(state, state).nothing


@EXAMPLES
@given(shard_states(), st.integers(0, 5))
def test_a_record_told_two_ways_is_a_conflict_in_every_order(
    drawn: tuple[frozenset[KeyRecord], list[KeyOnShard]], hlc: int
) -> None:
    held, shards = drawn
    told = min(held, key=lambda r: r.name)
    retold = KeyRecord(told.region, told.node, told.seq, hlc=hlc, digest=b"x" * 32)
    other = on_shard(retold)
    for source in shards:
        if told in source.records:
            assert isinstance(merge(source, other), MergeConflict)
            assert isinstance(merge(other, source), MergeConflict)
