"""Session-wide real services: one embedded stack (Temporal dev server, PostgreSQL, moto S3,
fake-gcs-server) on private loopback ports, started once and stopped at the end of the run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.config import DevStackConfig, Settings, load_settings
from storage.embedded.config_template import render_dev_config
from storage.embedded.errors import PortInUseError
from storage.embedded.process import free_port
from storage.embedded.s3 import DEV_CREDENTIALS
from storage.embedded.stack import EmbeddedStack

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_START_TRIES = 3


@dataclass(frozen=True)
class RunningStack:
    settings: Settings
    config_path: Path
    stack: EmbeddedStack

    @property
    def temporal_address(self) -> str:
        return self.stack.temporal.address

    @property
    def s3_endpoint(self) -> str:
        return self.stack.s3.endpoint_url

    @property
    def gcs_endpoint(self) -> str:
        return self.stack.gcs.endpoint_url

    def postgres_dsn(self, database: str = "postgres") -> str:
        return self.stack.postgres.dsn(database)


def _private_dev_config(state_dir: Path) -> DevStackConfig:
    return DevStackConfig(
        state_dir=state_dir,
        temporal_port=free_port(),
        temporal_ui_port=free_port(),
        postgres_port=free_port(),
        s3_port=free_port(),
        gcs_port=free_port(),
    )


@pytest.fixture(scope="session")
def running_stack() -> Iterator[RunningStack]:
    """The embedded stack on private ports; `settings` describes two regions on it."""
    for name, value in DEV_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    # Not under pytest's basetemp: pytest prunes and re-permissions old numbered temp dirs, and
    # the database files belong to the unprivileged server user, so keep them apart.
    root = Path(tempfile.mkdtemp(prefix="geoledger-test-stack-"))
    config_path = root / "geoledger.toml"
    stack: EmbeddedStack | None = None
    try:
        for attempt in range(STACK_START_TRIES):
            stack = _stack_on_private_ports(root, config_path)
            try:
                stack.up()
                break
            except PortInUseError:
                # Another process (a parallel test session) took a port between our probe
                # and the server's bind: start over on other ports.
                stack.down(postgres_mode="immediate")
                if attempt == STACK_START_TRIES - 1:
                    raise
        assert stack is not None
        yield RunningStack(stack.settings, config_path, stack)
    finally:
        if stack is not None:
            stack.down(postgres_mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


def _stack_on_private_ports(root: Path, config_path: Path) -> EmbeddedStack:
    config_path.write_text(
        render_dev_config(_private_dev_config(root / "state"), free_port(), free_port())
    )
    return EmbeddedStack(
        load_settings(config_path),
        temporal_extra_args=(
            # Lets tests exercise continue-as-new without thousands of events.
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=200",
        ),
        # The test databases are thrown away: what the tests prove is our WAL's durability,
        # never PostgreSQL's, so its fsyncs only cost time here.
        postgres_settings=("fsync=off", "synchronous_commit=off", "full_page_writes=off"),
    )


@pytest.fixture(scope="session")
def settings(running_stack: RunningStack) -> Settings:
    return running_stack.settings
