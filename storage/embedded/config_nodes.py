"""A region's `nodes` and `lost_nodes` rewritten in place in the stack's configuration file,
after the region was rebuilt on new disks under new node names (`drill region-outage
--lose-disk`): the file is what every later command and restarted process reads, so the new
names must be there, and nothing else in it (comments included) may change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tomlkit

from ledger.config import NodeConfig, load_settings
from ledger.errors import ConfigError


def write_region_nodes(path: Path, region: str, nodes: list[NodeConfig], lost: list[str]) -> None:
    """Set `[regions.<region>]`'s `nodes` and `lost_nodes` in the TOML file at `path` (tomlkit
    keeps every other line and comment as it was). Raises ConfigError, leaving the file as it
    was, when the result does not load with exactly them."""
    original = path.read_text()
    document = tomlkit.parse(original)
    try:
        table = document["regions"][region]
    except KeyError:
        raise ConfigError(
            f"{path}: no [regions.{region}] table to write the new node names into"
        ) from None
    table["nodes"] = _value(f"[{', '.join(map(_inline, nodes))}]")
    table["lost_nodes"] = _value(json.dumps(lost))
    path.write_text(tomlkit.dumps(document))
    try:
        config = load_settings(path).region(region)
        if config.nodes != nodes or config.lost_nodes != lost:
            raise ConfigError(f"{path}: [regions.{region}] did not take the new node names")
    except ConfigError:
        path.write_text(original)
        raise


def _value(text: str) -> Any:
    """The TOML value written as `text`, parsed so that it is written back exactly so (tomlkit
    would otherwise lay inline tables out its own way)."""
    return tomlkit.parse(f"value = {text}")["value"]


def _inline(node: NodeConfig) -> str:
    """`node` as a TOML inline table, its defaults left out."""
    fields = node.model_dump(exclude_defaults=True)
    fields["name"] = node.name
    return "{ " + ", ".join(f"{key} = {json.dumps(value)}" for key, value in fields.items()) + " }"
