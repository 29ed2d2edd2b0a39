"""A witness on the session's Postgres for one test: two fresh migrated regions, witness-eu
cosigning us's audit log, served by uvicorn on a free loopback port; and a test log that signs
checkpoints of any size with us's region key (or forges them with another leaf set)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import uvicorn

from api.witness.app import create_app
from api.witness.serve import open_witness
from ledger.audit_config import WitnessConfig, WitnessedLog
from ledger.checkpoint import Checkpoint
from ledger.config import Settings
from ledger.merkle import MemoryTree, leaf_hash
from ledger.signed_note import NoteSigner, sign_note
from ledger.witness_protocol import ADD_CHECKPOINT_PATH
from storage.audit.witness_client import WitnessTarget
from storage.audit.witness_keys import witness_config, witness_targets
from storage.audit.witness_state import latest
from storage.crr.region_keys import ensure_signing_key_file, signing_key
from storage.dedup import migrate_region
from storage.embedded.process import free_port
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region

ORIGIN = "geoledger.example/audit/us"
WITNESS = "witness-eu"


async def witness_settings(running_stack: RunningStack, root: Path, label: str) -> Settings:
    """Fresh us and eu regions, us signing with a key under `root`, and witness-eu (state in
    eu's control database) cosigning us's log on a free port."""
    us, eu = await asyncio.gather(
        fresh_region(running_stack, f"{label}_us", shards=1),
        fresh_region(running_stack, f"{label}_eu", shards=1),
    )
    await asyncio.gather(migrate_region(us), migrate_region(eu))
    for name in ("region-us", WITNESS):
        ensure_signing_key_file(root / f"{name}.pem")
    witness = WitnessConfig(
        region="eu",
        key_file=root / f"{WITNESS}.pem",
        port=free_port(),
        logs=[WitnessedLog(origin=ORIGIN, region="us")],
        open_after_failures=2,
        cooldown_s=1.0,
        timeout_s=2.0,
    )
    regions = {"us": us.model_copy(update={"signing_key_file": root / "region-us.pem"}), "eu": eu}
    return running_stack.settings.model_copy(
        update={"regions": regions, "witnesses": {WITNESS: witness}}
    )


def witness_target(settings: Settings) -> WitnessTarget:
    """witness-eu, the one witness of us's log."""
    [target] = witness_targets(settings, ORIGIN)
    return target


@asynccontextmanager
async def serving(settings: Settings, name: str = WITNESS) -> AsyncIterator[None]:
    """The witness `name` (default witness-eu) served on its configured port until the block
    ends."""
    witness = witness_config(settings, name)
    app = create_app(lambda: open_witness(settings, name))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=witness.port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@dataclass
class SigningLog:
    """us's audit log as an in-memory tree; `tag` makes another log (a fork) under one key."""

    signer: NoteSigner
    tag: bytes = b"leaf"

    @classmethod
    def of(cls, settings: Settings, tag: bytes = b"leaf") -> SigningLog:
        return cls(NoteSigner(ORIGIN, signing_key("us", settings.region("us"))), tag)

    def tree(self, size: int) -> MemoryTree:
        return MemoryTree.of(leaf_hash(self.tag + i.to_bytes(8, "big")) for i in range(size))

    def note(self, size: int) -> str:
        body = Checkpoint(ORIGIN, size, self.tree(size).root()).body()
        return sign_note(body, [self.signer])

    def proof(self, old: int, new: int) -> list[bytes]:
        # From size 0 there is nothing to prove (tlog-witness: the proof is empty).
        return self.tree(new).consistency_proof(old) if old else []

    async def proof_to(self, new: int, old: int) -> list[bytes]:
        return self.proof(old, new)


WitnessEnv = tuple[SigningLog, WitnessTarget, asyncpg.Pool, asyncpg.Pool]
"""(us's log, witness-eu as a target, eu's control pool (the witness's state), us's control
pool (the log's cosignatures and breaker))."""


@asynccontextmanager
async def witness_env(
    running_stack: RunningStack, root: Path, label: str
) -> AsyncIterator[WitnessEnv]:
    """A fresh WitnessEnv with witness-eu serving."""
    settings = await witness_settings(running_stack, root, label)
    eu = await asyncpg.create_pool(settings.region("eu").control_dsn, min_size=1, max_size=2)
    us = await asyncpg.create_pool(settings.region("us").control_dsn, min_size=1, max_size=2)
    try:
        async with serving(settings):
            yield SigningLog.of(settings), witness_target(settings), eu, us
    finally:
        await asyncio.gather(eu.close(), us.close())


async def post(target: WitnessTarget, body: bytes) -> httpx.Response:
    """One raw add-checkpoint request."""
    async with httpx.AsyncClient() as http:
        return await http.post(target.url + ADD_CHECKPOINT_PATH, content=body)


async def witnessed_size(eu: asyncpg.Pool) -> int | None:
    """The size witness-eu last cosigned for us's log; None when it never did."""
    state = await latest(eu, ORIGIN)
    return None if state is None else state.size
