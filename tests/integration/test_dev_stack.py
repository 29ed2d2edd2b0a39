"""`geoledger dev up | status | down` against the real parts."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import asyncpg
import pytest

from ledger.config import DevStackConfig
from storage.embedded.errors import PortInUseError
from storage.embedded.stack import EmbeddedStack
from tests.conftest import RunningStack


def test_every_part_is_healthy_and_recorded(running_stack: RunningStack) -> None:
    status = running_stack.stack.status()
    assert {name: part.healthy for name, part in status.items()} == {
        "temporal": True,
        "temporal-ui": True,
        "postgres": True,
        "s3": True,
        "gcs": True,
    }
    assert running_stack.stack.stack_file.is_file()


def test_temporal_keeps_its_history_in_a_write_ahead_journal(running_stack: RunningStack) -> None:
    # journal_mode=wal: commits append to temporal.sqlite-wal (no fsync per workflow task).
    database = running_stack.stack.temporal.state_dir / "temporal.sqlite"
    assert database.is_file()
    assert database.with_name("temporal.sqlite-wal").is_file()


def test_up_twice_reports_the_running_stack(running_stack: RunningStack) -> None:
    before = running_stack.stack.status()
    after = running_stack.stack.up()
    # Same processes: nothing was started a second time.
    assert {n: p.pid for n, p in after.items()} == {n: p.pid for n, p in before.items()}


def test_every_region_and_witness_key_file_exists(running_stack: RunningStack) -> None:
    settings = running_stack.settings
    key_files = [r.signing_key_file for r in settings.regions.values()] + [
        w.key_file for w in settings.witnesses.values()
    ]
    assert len(key_files) == 4
    assert all(path is not None and Path(path).is_file() for path in key_files)


def test_databases_named_by_the_configuration_exist(running_stack: RunningStack) -> None:
    async def names() -> set[str]:
        conn = await asyncpg.connect(running_stack.postgres_dsn())
        try:
            return {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        finally:
            await conn.close()

    expected = {
        dsn.rsplit("/", 1)[1]
        for region in running_stack.settings.regions.values()
        for dsn in [region.control_dsn, *region.shard_dsns]
    }
    assert expected <= asyncio.run(names())


def test_port_in_use_is_a_clear_error_naming_it(running_stack: RunningStack, tmp_path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        dev = DevStackConfig(state_dir=tmp_path, s3_port=taken)
        stack = EmbeddedStack(running_stack.settings.model_copy(update={"dev": dev}))
        with pytest.raises(PortInUseError, match=f"port {taken}"):
            stack.s3.start()
