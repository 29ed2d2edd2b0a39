"""Archive classes on the real stack: a body whose cold pack was written in S3 GLACIER (moto's
restore simulation) answers `GET /v1/events/...` 202 "restoring" with Retry-After while the
node's read starts RestoreWorkflow, a second read finds the same run, and once it has ended the
next read returns the byte-identical signed event; a pack in GCS ARCHIVE (fake-gcs) reads
directly, with no restore."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client

from api.ingest.app import create_app
from api.ingest.serve import open_node
from ledger.canonical import canonical_bytes
from ledger.config import Settings
from storage.dedup import DedupStore
from storage.objectstore import RestoreStatus, open_object_store
from storage.tiering.packs import pack_key
from tests.conftest import RunningStack
from tests.integration.tiering_support import make_cold, stored_record
from tests.support.isolated import isolated_settings
from tests.support.tenants import body, register, signed_read, tenant
from tests.support.tiering_worker import tiering_worker
from workers.client import connect
from workers.tier_restore import TemporalRestores
from workflows.restore import restore_workflow_id

pytestmark = pytest.mark.timeout(300)

OWNER = tenant("archiving")
RETRY_AFTER_S = 30
COLD_CLASSES = {"us": "GLACIER", "eu": "ARCHIVE"}


@pytest.fixture(scope="module")
async def settings(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    isolated = await isolated_settings(running_stack, tmp_path_factory.mktemp("restore"), "restore")
    await register(isolated, OWNER)
    restore = isolated.tier_restore.model_copy(
        update={"retry_after_s": RETRY_AFTER_S, "poll_interval_s": 0.2}
    )
    return isolated.model_copy(update={"tier_restore": restore})


@pytest.fixture(scope="module")
async def worker(settings: Settings) -> AsyncIterator[tuple[Client, str]]:
    client = await connect(settings)
    async with tiering_worker(client, settings) as task_queue:
        yield client, task_queue


async def cold_event(
    settings: Settings, region: str, http: httpx.AsyncClient
) -> tuple[dict[str, object], bytes, str]:
    """A new event of OWNER accepted by `region`'s node, then moved into a pack written in the
    region's archive class: the event, its canonical bytes and the pack id."""
    event = OWNER.event(f"evt-{uuid.uuid4().hex[:10]}", {"archived": True})
    answer = await http.post("/v1/events", content=body([event]))
    assert answer.status_code == 200, answer.text
    store = open_object_store(settings.region(region).object_store)
    async with await DedupStore.open(settings.region(region)) as dedup:
        shard = dedup.pools.shards[dedup.route.read_shard(OWNER.tenant_id, str(event["event_id"]))]
        record = await stored_record(shard, OWNER.tenant_id, str(event["event_id"]))
        pack_id = await make_cold(shard, store, [record], storage_class=COLD_CLASSES[region])
    return event, record.event, pack_id


async def test_an_archived_body_answers_restoring_until_the_workflow_restored_it(
    settings: Settings, worker: tuple[Client, str]
) -> None:
    client, task_queue = worker
    restores = TemporalRestores(settings, task_queue)
    app = create_app(lambda: open_node(settings, "us", "n1", restores))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as http,
    ):
        event, canonical, pack_id = await cold_event(settings, "us", http)
        store = open_object_store(settings.region("us").object_store)
        assert await store.restore_status(pack_key(OWNER.tenant_id, pack_id)) in (
            RestoreStatus.ARCHIVED,
            RestoreStatus.RESTORING,
            RestoreStatus.RESTORED,  # moto's immediate restore may already be done
        )
        answer = await signed_read(http, OWNER.tenant_id, event["event_id"])

        assert answer.status_code == 202, answer.text
        assert answer.headers["Retry-After"] == str(RETRY_AFTER_S)
        assert answer.json()["status"] == "restoring"
        assert f"retry after {RETRY_AFTER_S} s" in answer.json()["message"]
        handle = client.get_workflow_handle(restore_workflow_id("us", OWNER.tenant_id, pack_id))
        run_id = (await handle.describe()).run_id
        assert await handle.result() == RestoreStatus.RESTORED.value
        assert (await handle.describe()).run_id == run_id  # one run for the pack

        again = await signed_read(http, OWNER.tenant_id, event["event_id"])

        assert again.status_code == 200, again.text
        assert canonical_bytes(again.json()["event"]) == canonical
        assert again.json()["event"] == event


async def test_a_gcs_archive_pack_reads_directly(settings: Settings) -> None:
    app = create_app(lambda: open_node(settings, "eu", "n1"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as http,
    ):
        event, canonical, _ = await cold_event(settings, "eu", http)

        answer = await signed_read(http, OWNER.tenant_id, event["event_id"])

        assert answer.status_code == 200, answer.text
        assert canonical_bytes(answer.json()["event"]) == canonical
