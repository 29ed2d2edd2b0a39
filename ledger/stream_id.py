"""The name of a WAL stream: `<region>/<node>`, the one ingest node of a region that writes it.

Region and node names follow one rule (configuration, WAL records, WAL directories and object
keys all rely on it): 1-32 of [a-z0-9-] starting with a letter, so a name never holds the `/`
that separates them and is safe as a path segment and an object-key segment. The string form
`<region>/<node>` is what payloads, reports, metric labels and the dedup store carry; code that
needs the parts parses it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME_PATTERN = r"[a-z][a-z0-9-]{0,31}"
"""Region and node names, as a regular expression (without anchors)."""
NAME_RULE = "1-32 of [a-z0-9-] starting with a letter"
"""Region and node names, as a message states the rule."""

_NAME = re.compile(NAME_PATTERN, re.ASCII)
_SEPARATOR = "/"


def is_name(value: object) -> bool:
    """True when `value` is a string that is a valid region or node name."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class StreamId:
    """The stream of node `node` in region `region`; `str()` gives `<region>/<node>`.

    Raises ValueError when region or node is not a valid name (see NAME_RULE).
    """

    region: str
    node: str

    def __post_init__(self) -> None:
        for part, value in (("region", self.region), ("node", self.node)):
            if not is_name(value):
                raise ValueError(f"expected {part} to be {NAME_RULE}, got {value!r}")

    @classmethod
    def parse(cls, text: str) -> StreamId:
        """The stream named `<region>/<node>` by `text`; raises ValueError saying what is wrong."""
        region, separator, node = text.partition(_SEPARATOR)
        if not separator:
            problem = "no '/' between region and node"
        elif _SEPARATOR in node:
            problem = "more than one '/'"
        elif not is_name(region):
            problem = f"region {region!r} is not {NAME_RULE}"
        elif not is_name(node):
            problem = f"node {node!r} is not {NAME_RULE}"
        else:
            return cls(region, node)
        raise ValueError(f"expected a stream '<region>/<node>', got {text!r}: {problem}")

    def __str__(self) -> str:
        return f"{self.region}{_SEPARATOR}{self.node}"
