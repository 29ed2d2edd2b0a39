"""`geoledger crr repair-store` and the ship-target part of `geoledger crr status`, as an operator
runs them (real processes) against the real stores: an incomplete target is shown, a dry run
copies nothing, the repair makes both targets whole; bad input exits 2 and an unreachable store
exits 3, both changing nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ledger.config import Settings
from storage.embedded.process import free_port
from storage.wal import stream_directory
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings, settings_env
from tests.support.processes import CommandOutcome, run_geoledger
from tests.support.shipped_stream import STREAM, keys_of, ship_stream, stores_of

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    return await isolated_settings(running_stack, tmp_path, "clirepair")


def env_for(settings: Settings, running_stack: RunningStack) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("GEOLEDGER_")},
        **settings_env(settings, running_stack.config_path),
    }


async def geoledger(env: dict[str, str], *args: str) -> CommandOutcome:
    return await run_geoledger(env, *args, timeout_s=90.0)


async def test_an_incomplete_target_is_shown_and_repaired(
    settings: Settings, running_stack: RunningStack
) -> None:
    await ship_stream(settings)
    stores = stores_of(settings)
    for key in keys_of(2):
        await stores["us"].delete(key)
    await stores["eu"].delete(keys_of(4)[1])
    env = env_for(settings, running_stack)
    # Node eu/n1 never ran here, so it has no WAL directory: its lag is 0, not an error.
    assert not stream_directory(Path(settings.region("eu").wal_dir), "eu/n1").exists()

    status = await geoledger(env, "crr", "status", "--json")
    assert status.code == 0, status.stderr
    rows = {(row["stream"], row["target"]): row for row in status.json()["stores"]}
    assert rows[(STREAM, "us")]["missing"] == 2 and not rows[(STREAM, "us")]["complete"]
    assert rows[(STREAM, "eu")]["missing"] == 1 and not rows[(STREAM, "eu")]["complete"]
    assert all(row["complete"] for (stream, _), row in rows.items() if stream != STREAM)

    dry = await geoledger(env, "crr", "repair-store", "--region", "us", "--dry-run", "--json")
    assert dry.code == 1, dry.stderr
    assert json.loads(dry.stdout)["streams"][0]["missing"] == {"us": 2, "eu": 1}
    assert not await stores["us"].exists(keys_of(2)[0])

    repaired = await geoledger(env, "crr", "repair-store", "--region", "us")
    assert repaired.code == 0, repaired.stdout + repaired.stderr
    assert "complete" in repaired.stdout
    for key in (*keys_of(2), keys_of(4)[1]):
        assert await stores["us"].get(key) == await stores["eu"].get(key)
    again = await geoledger(env, "crr", "repair-store", "--dry-run", "--json")
    assert again.code == 0 and again.json()["ok"], again.stdout


async def test_bad_input_and_an_unreachable_store_change_nothing(
    settings: Settings, running_stack: RunningStack
) -> None:
    await ship_stream(settings)
    stores = stores_of(settings)
    await stores["eu"].delete(keys_of(1)[0])
    env = env_for(settings, running_stack)

    unknown = await geoledger(env, "crr", "repair-store", "--region", "mars")
    assert unknown.code == 2 and "unknown region 'mars'" in unknown.stderr, unknown.stderr

    # The us store (S3) behind a port nobody listens on: the eu store stays as it was.
    us = settings.region("us")
    dead = us.object_store.model_copy(update={"endpoint_url": f"http://127.0.0.1:{free_port()}"})
    down = settings.model_copy(
        update={
            "regions": {
                **settings.regions,
                "us": us.model_copy(update={"object_store": dead}),
            }
        }
    )
    unreachable = await geoledger(
        env_for(down, running_stack), "crr", "repair-store", "--region", "us"
    )
    assert unreachable.code == 3, unreachable.stdout + unreachable.stderr
    assert "unreachable" in unreachable.stderr
    assert not await stores["eu"].exists(keys_of(1)[0])
