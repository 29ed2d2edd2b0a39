"""The key, prefix and range rules every object store backend shares (objectstore/base.py)."""

from __future__ import annotations

import pytest

from storage.objectstore.base import (
    MAX_KEY_BYTES,
    check_key,
    check_limit,
    check_prefix,
    check_range,
)
from storage.objectstore.errors import InvalidKey, ObjectStoreError

STORE = "s3://bucket/prefix"


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "wal/us/n1/00000000000000000001.seg.zst",
        "ключ/日本語/🙂",
        "sym bols+%&=?#~'(),;",
        ".hidden",  # a dot file is fine; only "." and ".." segments are not
        "a/..b/c..",
        "x" * MAX_KEY_BYTES,
    ],
)
def test_accepted_keys(key: str) -> None:
    assert check_key(STORE, key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "non-empty key"),
        ("/leading", "empty one"),
        ("trailing/", "empty one"),
        ("a//b", "empty one"),
        (".", "'.' or '..'"),
        ("a/../b", "'.' or '..'"),
        ("a/./b", "'.' or '..'"),
        ("a/..", "'.' or '..'"),
        ("a\nb", "control characters"),
        ("a\x00b", "control characters"),
        ("a\x7fb", "control characters"),
        ("x" * (MAX_KEY_BYTES + 1), f"at most {MAX_KEY_BYTES} bytes"),
        ("é" * (MAX_KEY_BYTES // 2 + 1), f"at most {MAX_KEY_BYTES} bytes"),  # 2 bytes each
        ("lone\udc80surrogate", "UTF-8"),
        (".geoledger-tmp-1234", "reserved"),
        ("a/.geoledger-lock", "reserved"),
    ],
)
def test_refused_keys_name_the_problem(key: str, reason: str) -> None:
    with pytest.raises(InvalidKey, match=reason) as caught:
        check_key(STORE, key)
    # The error is both a store error (for callers catching those) and a ValueError.
    assert isinstance(caught.value, ObjectStoreError)
    assert isinstance(caught.value, ValueError)
    assert (caught.value.store, caught.value.key) == (STORE, key)


@pytest.mark.parametrize("prefix", ["", "a", "a/", "a/b", "a/b/", "a/.", "a/..x", "a/.geo"])
def test_accepted_prefixes(prefix: str) -> None:
    # A prefix may stop inside its last segment: "a/." is the start of "a/.hidden".
    assert check_prefix(STORE, prefix) == prefix


@pytest.mark.parametrize("prefix", ["/", "/a", "a//", "a//b", "../a", "a/../", "a\n"])
def test_refused_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidKey):
        check_prefix(STORE, prefix)


@pytest.mark.parametrize(("start", "end"), [(0, 0), (0, 1), (5, 5), (10, 2**40)])
def test_accepted_ranges(start: int, end: int) -> None:
    check_range(start, end)


@pytest.mark.parametrize(("start", "end"), [(-1, 0), (5, 4), (1, 0)])
def test_refused_ranges(start: int, end: int) -> None:
    with pytest.raises(ValueError, match=f"got start={start}, end_exclusive={end}"):
        check_range(start, end)


def test_limits() -> None:
    check_limit(None)
    check_limit(0)
    with pytest.raises(ValueError, match="got -1"):
        check_limit(-1)
