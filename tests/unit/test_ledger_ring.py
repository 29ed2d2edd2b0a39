"""Jump consistent hash against published outputs, and its consistency properties."""

from __future__ import annotations

import hashlib
import random

import pytest

from ledger.ring import MAX_BUCKETS, jump_hash, routing_key, shard_of

# github.com/dgryski/go-jump, jump_test.go, "Generated from the reference C++ code":
# key -> buckets for num_buckets = 1, 2, 3, ...
GO_JUMP_TABLE = [
    (0, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    (1, [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17]),
    (0xDEADBEEF, [0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16]),
    (0x0DDC0FFEEBADF00D, [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15]),
]

# Guava, HashingTest.testConsistentHash_linearCongruentialGeneratorCompatibility, "golden values
# to see that implementations across languages are equivalent": consistentHash(i, 100), i = 0..19.
GUAVA_GOLDEN_100 = [0, 55, 62, 8, 45, 59, 86, 97, 82, 59, 73, 37, 17, 56, 86, 21, 90, 37, 38, 83]
# The same Guava test: (key, buckets, bucket).
GUAVA_GOLDEN = [
    (10863919174838991, 11, 6),
    (2016238256797177309, 11, 3),
    (1673758223894951030, 11, 5),
    (2, 100001, 80343),
    (2201, 100001, 22152),
    (2202, 100001, 15018),
]


@pytest.mark.parametrize(("key", "expected"), GO_JUMP_TABLE)
def test_go_jump_reference_table(key: int, expected: list[int]) -> None:
    assert [jump_hash(key, n) for n in range(1, len(expected) + 1)] == expected


def test_guava_golden_100() -> None:
    assert [jump_hash(key, 100) for key in range(20)] == GUAVA_GOLDEN_100


@pytest.mark.parametrize(("key", "buckets", "expected"), GUAVA_GOLDEN)
def test_guava_golden_values(key: int, buckets: int, expected: int) -> None:
    assert jump_hash(key, buckets) == expected


@pytest.mark.parametrize(
    ("key", "buckets", "message"),
    [
        (-1, 10, "0 <= key < 2\\*\\*64"),
        (2**64, 10, "0 <= key < 2\\*\\*64"),
        (1, 0, "1 <= buckets"),
        (1, -5, "1 <= buckets"),
        (1, MAX_BUCKETS + 1, "1 <= buckets"),
    ],
)
def test_preconditions(key: int, buckets: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        jump_hash(key, buckets)


def test_routing_key_is_the_big_endian_sha256_prefix() -> None:
    digest = hashlib.sha256(b"acme\x00order-0001").digest()
    assert routing_key("acme", "order-0001") == int.from_bytes(digest[:8], "big")
    # The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert routing_key("ab", "c") != routing_key("a", "bc")


def test_shard_of_composes_routing_key_and_jump_hash() -> None:
    assert shard_of("acme", "order-0001", 7) == jump_hash(routing_key("acme", "order-0001"), 7)


def _keys(count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(64) for _ in range(count)]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 63, 100])
def test_growing_the_ring_only_moves_keys_to_the_new_bucket(n: int) -> None:
    for key in _keys(2000, seed=n):
        before, after = jump_hash(key, n), jump_hash(key, n + 1)
        assert after in (before, n), (
            f"key {key} moved {before} -> {after} when growing {n}->{n + 1}"
        )


def test_growing_the_ring_moves_about_one_in_n_plus_one_keys() -> None:
    keys = _keys(20_000, seed=1)
    moved = sum(jump_hash(key, 10) != jump_hash(key, 9) for key in keys)
    # Expected 1/10 of the keys; 3 sigma of a binomial(20000, 0.1) is about 127.
    assert abs(moved - 2000) < 200


def test_every_key_keeps_its_bucket_until_it_jumps_to_the_newest() -> None:
    # Guava's checkConsistentHashCorrectness, over fewer shards: a change is always to n - 1.
    for key in [0, 1, 2, 2**63 - 1, 2**63, 2**64 - 1, *_keys(5, seed=7)]:
        last = 0
        for n in range(1, 2000):
            bucket = jump_hash(key, n)
            if bucket != last:
                assert bucket == n - 1
                last = bucket


@pytest.mark.parametrize("n", [2, 10, 32])
def test_distribution_is_roughly_uniform(n: int) -> None:
    counts = [0] * n
    for index in range(20_000):
        counts[shard_of("tenant", f"event-{index}", n)] += 1
    expected = 20_000 / n
    # Chi-square with n - 1 degrees of freedom stays well below this bound unless skewed.
    chi_square = sum((count - expected) ** 2 / expected for count in counts)
    assert chi_square < 3 * n + 30, counts
    assert min(counts) > 0.8 * expected
