"""StreamId: `<region>/<node>` parsed, validated and formatted in one place."""

from __future__ import annotations

import re

import pytest

from ledger.stream_id import StreamId, is_name


@pytest.mark.parametrize("text", ["us/n1", "eu-west/node-2", "a/b", f"{'r' * 32}/{'n' * 32}"])
def test_parse_and_format_round_trip(text: str) -> None:
    stream = StreamId.parse(text)
    assert str(stream) == text
    assert StreamId.parse(str(stream)) == stream
    assert f"{stream}" == text


def test_parts_and_identity() -> None:
    stream = StreamId.parse("eu-west/node-2")
    assert (stream.region, stream.node) == ("eu-west", "node-2")
    assert stream == StreamId("eu-west", "node-2")
    assert len({stream, StreamId("eu-west", "node-2"), StreamId("eu-west", "node-3")}) == 2
    with pytest.raises(AttributeError):
        stream.region = "us"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no '/' between region and node"),
        ("us", "no '/' between region and node"),
        ("us/n1/x", "more than one '/'"),
        ("us//n1", "more than one '/'"),
        ("/n1", "region '' is not 1-32 of [a-z0-9-] starting with a letter"),
        ("US/n1", "region 'US' is not"),
        ("1us/n1", "region '1us' is not"),
        (f"{'r' * 33}/n1", f"region '{'r' * 33}' is not"),
        ("us/", "node '' is not 1-32 of [a-z0-9-] starting with a letter"),
        ("us/n_1", "node 'n_1' is not"),
        ("us/n1\n", "node 'n1\\n' is not"),
        ("us/nö", "node 'nö' is not"),
        ("us /n1", "region 'us ' is not"),
    ],
)
def test_parse_rejects_each_invalid_form(text: str, problem: str) -> None:
    expected = f"expected a stream '<region>/<node>', got {text!r}: {problem}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        StreamId.parse(text)


@pytest.mark.parametrize(
    ("region", "node", "message"),
    [
        ("US", "n1", "expected region to be 1-32 of [a-z0-9-] starting with a letter, got 'US'"),
        ("us", "", "expected node to be 1-32 of [a-z0-9-] starting with a letter, got ''"),
        ("us", "n1/x", "expected node to be 1-32 of [a-z0-9-] starting with a letter, got 'n1/x'"),
        ("us", 1, "expected node to be 1-32 of [a-z0-9-] starting with a letter, got 1"),
    ],
)
def test_construction_validates_the_parts(region: str, node: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        StreamId(region, node)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("a", True),
        ("n-1", True),
        ("x" * 32, True),
        ("x" * 33, False),
        ("-a", False),
        ("a\n", False),
        ("a.b", False),
        (None, False),
    ],
)
def test_the_name_rule(value: object, valid: bool) -> None:
    assert is_name(value) is valid
