"""A region's `nodes` and `lost_nodes` rewritten in place in the stack's configuration file,
after the region was rebuilt on new disks under new node names (`drill region-outage
--lose-disk`): the file is what every later command and restarted process reads, so the new
names must be there, and nothing else in it (comments included) may change."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ledger.config import NodeConfig, load_settings
from ledger.errors import ConfigError

_TABLE = re.compile(r"^\s*\[")
_KEY = re.compile(r"^(nodes|lost_nodes)\s*=")


def write_region_nodes(path: Path, region: str, nodes: list[NodeConfig], lost: list[str]) -> None:
    """Set `[regions.<region>]`'s `nodes` and `lost_nodes` in the TOML file at `path`. Raises
    ConfigError, leaving the file as it was, when the result does not load with exactly them."""
    original = path.read_text()
    lines = original.splitlines(keepends=True)
    header = f"[regions.{region}]"
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == header) + 1
    except StopIteration:
        raise ConfigError(f"{path}: no {header} table to write the new node names into") from None
    end = next((i for i in range(start, len(lines)) if _TABLE.match(lines[i])), len(lines))
    values = {
        "nodes": f"nodes = [{', '.join(map(_inline, nodes))}]\n",
        "lost_nodes": f"lost_nodes = {json.dumps(lost)}\n",
    }
    body = _with_keys(lines[start:end], values)
    path.write_text("".join([*lines[:start], *body, *lines[end:]]))
    try:
        config = load_settings(path).region(region)
        if config.nodes != nodes or config.lost_nodes != lost:
            raise ConfigError(f"{path}: [regions.{region}] did not take the new node names")
    except ConfigError:
        path.write_text(original)
        raise


def _with_keys(lines: list[str], values: dict[str, str]) -> list[str]:
    """The table's `lines` with each key of `values` (an array may span lines) replaced by its
    line where it was; a key the table lacked goes after the last key written."""
    kept: list[str] = []
    after = None
    depth = 0
    for line in lines:
        key = _KEY.match(line)
        if depth > 0 or key:
            if key:
                kept.append(values.pop(key.group(1)))
                after = len(kept)
            code = line.split("#", 1)[0]
            depth += code.count("[") - code.count("]")
            continue
        kept.append(line)
    if after is None:
        # Comment lines just before the next table belong to it: new keys go above them.
        after = len(kept)
        while after > 0 and (not kept[after - 1].strip() or kept[after - 1].startswith("#")):
            after -= 1
    return [*kept[:after], *values.values(), *kept[after:]]


def _inline(node: NodeConfig) -> str:
    """`node` as a TOML inline table, its defaults left out."""
    fields = node.model_dump(exclude_defaults=True)
    fields["name"] = node.name
    return "{ " + ", ".join(f"{key} = {json.dumps(value)}" for key, value in fields.items()) + " }"
