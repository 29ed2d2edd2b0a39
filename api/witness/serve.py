"""Running one witness under uvicorn, built from its `[witnesses.<name>]` section."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import uvicorn

from api.witness.app import create_app
from api.witness.service import WitnessService
from ledger.config import Settings
from storage.audit.witness_keys import cosigner, log_verifiers, witness_config


async def open_witness(
    settings: Settings, name: str
) -> tuple[WitnessService, Callable[[], Awaitable[None]]]:
    """The witness `name` with its key, its logs' keys and a pool on its region's control
    database (where witness_checkpoints lives); and what closes it."""
    witness = witness_config(settings, name)
    signer = cosigner(name, witness)
    logs = log_verifiers(settings, witness)
    dsn = settings.region(witness.region).control_dsn
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    return WitnessService(signer, logs, pool), pool.close


def run_witness(settings: Settings, name: str, host: str, port: int) -> None:
    """Serve the witness until interrupted."""
    app = create_app(lambda: open_witness(settings, name))
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
