"""The winner order of I3: hlc, then region, then node, then seq; earliest wins."""

from __future__ import annotations

import itertools
import random

import pytest

from ledger.order import WinnerKey, winner

BASE = WinnerKey(hlc=100, region="eu", node="n1", seq=5)

# (earlier, later, why): each pair differs so that exactly one comparison decides it.
ORDERED_PAIRS = [
    (WinnerKey(99, "zz", "zz", 99), BASE, "hlc decides before anything else"),
    (WinnerKey(100, "ap", "zz", 99), BASE, "then region"),
    (WinnerKey(100, "eu", "n0", 99), BASE, "then node"),
    (WinnerKey(100, "eu", "n1", 4), BASE, "then seq"),
    (WinnerKey(100, "eu", "n1", 5), WinnerKey(100, "eu", "n10", 0), "prefix sorts first"),
    (WinnerKey(100, "us-east", "a", 0), WinnerKey(100, "us-west", "a", 0), "byte order"),
    (WinnerKey(2**63, "a", "a", 0), WinnerKey(2**64 - 1, "a", "a", 0), "beyond signed 64 bits"),
]


@pytest.mark.parametrize(("earlier", "later", "why"), ORDERED_PAIRS)
def test_earliest_wins(earlier: WinnerKey, later: WinnerKey, why: str) -> None:
    assert earlier < later
    assert earlier.wins_over(later)
    assert not later.wins_over(earlier)
    assert winner([later, earlier]) == winner([earlier, later]) == earlier


def test_a_key_does_not_win_over_itself() -> None:
    assert not BASE.wins_over(WinnerKey(100, "eu", "n1", 5))
    assert WinnerKey(100, "eu", "n1", 5) == BASE
    assert hash(BASE) == hash(WinnerKey(100, "eu", "n1", 5))


def test_winner_is_independent_of_arrival_order() -> None:
    # I3: applying records in any order picks the same winner.
    rng = random.Random(3)
    keys = [
        WinnerKey(rng.choice([1, 2, 3]), rng.choice(["eu", "us"]), rng.choice(["a", "b"]), seq)
        for seq in range(8)
    ]
    expected = sorted(keys)[0]
    for permutation in itertools.islice(itertools.permutations(keys), 2000):
        assert winner(permutation) == expected


def test_winner_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        winner([])


def test_keys_are_frozen() -> None:
    with pytest.raises(AttributeError):
        BASE.hlc = 1  # type: ignore[misc]
