"""The audit pipeline on the session's embedded stack for one test: two isolated regions whose
logs each witness the other (witness-us cosigns eu's log, witness-eu us's, both served by
uvicorn on free loopback ports), the audit queue's real workflows and activities in a worker of
the test process, and waits on what the regions' control databases say."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from temporalio.client import Client

from ledger.audit_config import WitnessConfig, WitnessedLog
from ledger.config import Settings
from storage.crr.region_keys import ensure_signing_key_file
from storage.embedded.process import free_port
from tests.conftest import RunningStack
from tests.integration.witness_support import serving
from tests.support.isolated import isolated_settings
from tests.support.queue_worker import registered_worker
from workers import demo_audit
from workers.audit_control import start_audit
from workflows import queues

# Short enough that a test sees checkpoints within seconds; tasks tried twice before the DLQ.
FAST_AUDIT = {"batch_max_age_s": 1.0, "discover_wait_s": 0.5, "task_max_attempts": 2}


async def audit_settings(running_stack: RunningStack, root: Path, label: str) -> Settings:
    """Isolated us and eu (their own databases, stores and write-once prefixes) with each
    region's log witnessed by the other region's witness, and a fast [audit]."""
    settings = await isolated_settings(running_stack, root, label)
    witnesses = {}
    for name, other in (("us", "eu"), ("eu", "us")):
        key_file = root / "keys" / f"witness-{name}.pem"
        ensure_signing_key_file(key_file)
        witnesses[f"witness-{name}"] = WitnessConfig(
            region=name,
            key_file=key_file,
            port=free_port(),
            logs=[WitnessedLog(origin=settings.audit.origin(other), region=other)],
            timeout_s=2.0,
            open_after_failures=2,
            cooldown_s=2.0,
        )
    audit = settings.audit.model_copy(update=FAST_AUDIT)
    return settings.model_copy(update={"witnesses": witnesses, "audit": audit})


def with_missing_worm_bucket(settings: Settings, region: str) -> Settings:
    """`settings` with `region`'s write-once store in a bucket that does not exist (yet): every
    `enrich_worm` of its segments fails until `ensure_worm_bucket` creates it."""
    config = settings.region(region)
    assert config.audit_store is not None
    scheme = config.audit_store.scheme
    missing = config.audit_store.model_copy(
        update={"url": f"{scheme}://audit-missing-{uuid.uuid4().hex[:10]}/leaves"}
    )
    regions = {**settings.regions, region: config.model_copy(update={"audit_store": missing})}
    return settings.model_copy(update={"regions": regions})


@contextlib.asynccontextmanager
async def serving_witnesses(settings: Settings) -> AsyncIterator[None]:
    """Every configured witness served until the block ends."""
    async with contextlib.AsyncExitStack() as stack:
        for name in settings.witnesses:
            await stack.enter_async_context(serving(settings, name))
        yield


@contextlib.asynccontextmanager
async def audit_pipeline(
    client: Client, settings: Settings, task_queue: str | None = None
) -> AsyncIterator[str]:
    """The audit queue's real registration on `task_queue` (default: a queue of its own), and
    each region's anchor workflow started on it (terminated when the block ends); the queue's
    name. Tests that replay from the dead-letter queue through the CLI use the real queue name,
    which the CLI starts replays on."""
    async with registered_worker(client, settings, queues.AUDIT, task_queue) as queue:
        ids = await start_audit(client, settings, task_queue=queue)
        try:
            yield queue
        finally:
            for workflow_id in ids:
                with contextlib.suppress(Exception):
                    await client.get_workflow_handle(workflow_id).terminate("test over")


async def wait_witnessed(
    settings: Settings, sizes: Mapping[str, int], timeout_s: float = 90.0
) -> None:
    """Wait until each region's latest checkpoint has `sizes[region]` leaves and a cosignature
    (workers.demo_audit.wait_witnessed), and fail when a log holds more: a leaf appended twice.
    Raises AssertionError naming where each region stands."""
    try:
        notes = await demo_audit.wait_witnessed(settings, sizes, timeout_s)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None
    assert {r: n["size"] for r, n in notes.items()} == dict(sizes)
