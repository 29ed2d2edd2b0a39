"""C2SP tlog-tiles (https://c2sp.org/tlog-tiles): the static layout a log is published in.

Tiles have height 8: a tile at level L holds the hashes of up to 256 consecutive tree nodes at
tree level 8L (level 0: leaf hashes). Tile N of level L covers nodes [256N, 256N + W); W is 256
for a full tile and 1..255 for the partial tile at the log's right edge, which is replaced as the
log grows while full tiles never change. Entry bundles hold the leaves themselves, each with a
big-endian uint16 length prefix, in the same groups of 256 as the level-0 tiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF  # the uint16 length prefix


def encode_tile_index(index: int) -> str:
    """tlog-tiles `<N>`: the decimal index in 3-digit path elements, all but the last prefixed
    with `x` (1234067 -> `x001/x234/067`, 5 -> `005`). Requires index >= 0."""
    if index < 0:
        raise ValueError(f"expected a tile index >= 0, got {index}")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index > 0:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def _width_suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"expected a tile width in 1..{TILE_WIDTH}, got {width}")
    return "" if width == TILE_WIDTH else f".p/{width}"


@dataclass(frozen=True, slots=True)
class Tile:
    """Tile `index` of tile level `level`, `width` hashes wide (256: full)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_TILE_LEVEL:
            raise ValueError(f"expected a tile level in 0..{MAX_TILE_LEVEL}, got {self.level}")
        encode_tile_index(self.index)
        _width_suffix(self.width)

    def path(self) -> str:
        """`tile/<L>/<N>[.p/<W>]`."""
        return f"tile/{self.level}/{encode_tile_index(self.index)}{_width_suffix(self.width)}"

    def entries_path(self) -> str:
        """`tile/entries/<N>[.p/<W>]`, the entry bundle of the leaves a level-0 tile hashes."""
        return f"tile/entries/{encode_tile_index(self.index)}{_width_suffix(self.width)}"

    @property
    def node_level(self) -> int:
        """The tree level of the nodes this tile holds."""
        return self.level * TILE_HEIGHT

    @property
    def first_node(self) -> int:
        """The index, at `node_level`, of the tile's first node."""
        return self.index * TILE_WIDTH


def tiles_of(size: int, published_size: int = 0) -> list[Tile]:
    """The tiles of a tree of `size` leaves that a tree of `published_size` leaves lacked or
    held narrower, level by level, left to right. Requires 0 <= published_size <= size."""
    if not 0 <= published_size <= size:
        raise ValueError(f"expected 0 <= published_size <= size, got {published_size}, {size}")
    tiles: list[Tile] = []
    level = 0
    while (nodes := size >> (level * TILE_HEIGHT)) > 0:
        had = published_size >> (level * TILE_HEIGHT)
        if nodes != had:
            # The old right-edge tile (if partial) grows; tiles before it are full and unchanged.
            for index in range(had // TILE_WIDTH, (nodes + TILE_WIDTH - 1) // TILE_WIDTH):
                width = min(TILE_WIDTH, nodes - index * TILE_WIDTH)
                tiles.append(Tile(level, index, width))
        level += 1
    return tiles


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length, then its bytes."""
    parts: list[bytes] = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise ValueError(
                f"expected entries of at most {MAX_ENTRY_BYTES} bytes, got {len(entry)}"
            )
        parts.append(len(entry).to_bytes(2, "big") + entry)
    return b"".join(parts)
