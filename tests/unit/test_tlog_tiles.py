"""C2SP tlog-tiles paths and contents (ledger/tlog_tiles.py), against the spec's examples
(https://c2sp.org/tlog-tiles, "Merkle Tree" and "Log Entries")."""

from __future__ import annotations

import pytest

from ledger.tlog_tiles import Tile, encode_tile_index, entry_bundle, tiles_of


@pytest.mark.parametrize(
    ("index", "encoded"),
    [
        (1234067, "x001/x234/067"),  # the spec's example
        (0, "000"),
        (5, "005"),
        (999, "999"),
        (1000, "x001/000"),
        (1_000_000, "x001/x000/000"),
    ],
)
def test_tile_indexes_are_3_digit_elements_with_x_before_all_but_the_last(
    index: int, encoded: str
) -> None:
    assert encode_tile_index(index) == encoded


def test_paths_of_full_partial_and_entry_tiles() -> None:
    assert Tile(0, 1234067).path() == "tile/0/x001/x234/067"
    assert Tile(1, 1234067, 8).path() == "tile/1/x001/x234/067.p/8"
    assert Tile(0, 1234067).entries_path() == "tile/entries/x001/x234/067"
    assert Tile(0, 2, 255).entries_path() == "tile/entries/002.p/255"


@pytest.mark.parametrize(
    ("level", "index", "width"), [(-1, 0, 1), (64, 0, 1), (0, -1, 1), (0, 0, 0), (0, 0, 257)]
)
def test_out_of_range_tiles_are_refused(level: int, index: int, width: int) -> None:
    with pytest.raises(ValueError):
        Tile(level, index, width)


@pytest.mark.parametrize(
    ("size", "published", "expected"),
    [
        (0, 0, []),
        (1, 0, [Tile(0, 0, 1)]),
        (256, 0, [Tile(0, 0), Tile(1, 0, 1)]),
        (
            70000,
            0,
            [
                *(Tile(0, i) for i in range(273)),
                Tile(0, 273, 112),
                Tile(1, 0),
                Tile(1, 1, 17),
                Tile(2, 0, 1),
            ],
        ),
        (300, 256, [Tile(0, 1, 44)]),  # level 1 still holds one node: unchanged
        (512, 300, [Tile(0, 1), Tile(1, 0, 2)]),
        (512, 512, []),
    ],
)
def test_tiles_of_a_size_are_those_the_published_size_lacked(
    size: int, published: int, expected: list[Tile]
) -> None:
    assert tiles_of(size, published) == expected


def test_an_entry_bundle_prefixes_each_entry_with_its_big_endian_uint16_length() -> None:
    assert entry_bundle([b"ab", b"", b"x" * 300]) == (
        b"\x00\x02ab" + b"\x00\x00" + b"\x01\x2c" + b"x" * 300
    )
    with pytest.raises(ValueError):
        entry_bundle([b"x" * 65536])
