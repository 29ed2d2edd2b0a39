"""A region rebuilt after its disks were lost (`lost_nodes`): its nodes take new names, the
configuration file is rewritten in place, and CRR replays the lost streams into every region
that receives them, their own region included."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import DevStackConfig, NodeConfig, load_settings
from ledger.errors import ConfigError
from storage.embedded.config_nodes import write_region_nodes
from storage.embedded.config_template import render_dev_config
from workers.crr_control import crr_workflows
from workers.drills.lost_disk import with_new_node_names


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "geoledger.toml"
    path.write_text(render_dev_config(DevStackConfig()))
    return path


def test_a_lost_stream_is_replayed_into_its_own_region_too_and_no_longer_shipped(
    config: Path,
) -> None:
    settings = with_new_node_names(load_settings(config), "eu")

    ids = {ref.workflow_id for ref in crr_workflows(settings)}
    assert {"crr-replay-eu-n1-to-eu", "crr-replay-eu-n1-to-us", "crr-ship-eu-n2"} <= ids
    assert "crr-ship-eu-n1" not in ids and "crr-replay-us-n1-to-us" not in ids


def test_new_node_names_never_reuse_a_lost_one(config: Path) -> None:
    once = with_new_node_names(load_settings(config), "eu")
    twice = with_new_node_names(once, "eu").region("eu")

    assert [n.name for n in twice.nodes] == ["n3"] and twice.lost_nodes == ["n1", "n2"]
    assert twice.nodes[0].port == load_settings(config).region("eu").nodes[0].port


def test_the_file_changes_only_in_the_regions_node_lines(config: Path) -> None:
    before = config.read_text()
    write_region_nodes(config, "eu", [NodeConfig(name="n2", port=8201)], ["n1"])

    changed = [
        (a, b)
        for a, b in zip(before.splitlines(), config.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert changed == [
        ('nodes = [{ name = "n1", port = 8201 }]', 'nodes = [{ name = "n2", port = 8201 }]'),
        ("lost_nodes = []", 'lost_nodes = ["n1"]'),
    ]


def test_a_lost_name_cannot_come_back_and_the_file_is_left_as_it_was(config: Path) -> None:
    before = config.read_text()
    with pytest.raises(ConfigError, match="lost_nodes"):
        write_region_nodes(config, "eu", [NodeConfig(name="n1", port=8201)], ["n1"])
    assert config.read_text() == before
