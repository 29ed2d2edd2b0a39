"""The winner order of invariant I3: the one total order every region uses to pick, among all
records of one (tenant, event_id), the record that wins. Earliest wins.

Compare hlc, then region, then node, then seq. Region and node names are ASCII (configuration
allows [a-z0-9-] only), so Python's code-point order is byte order: SQL that sorts by them must use
a byte-wise collation (COLLATE "C") to agree with this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True, slots=True)
class WinnerKey:
    """A record's position in the total order. `a < b` means a wins over b.

    hlc: the record's hybrid-logical-clock timestamp; region, node: the WAL stream that accepted
    it; seq: its gap-free position in that stream. (hlc, region, node) alone can tie only within
    one stream, where seq decides; seq never ties within a stream.
    """

    hlc: int
    region: str
    node: str
    seq: int

    def wins_over(self, other: WinnerKey) -> bool:
        """True when this record is earlier than `other` in the total order."""
        return self < other


def winner(keys: Iterable[WinnerKey]) -> WinnerKey:
    """The earliest key. Requires at least one key; raises ValueError when there is none."""
    earliest = min(keys, default=None)
    if earliest is None:
        raise ValueError("expected at least one candidate, got none")
    return earliest
