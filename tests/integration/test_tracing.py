"""OpenTelemetry spans on the real stack, caught by an in-memory exporter: an ingest batch's span
with its attributes and steps, and the spans of a workflow's activities run by a real worker in
the trace of the client that started the workflow."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.ingest.app import create_app
from api.ingest.serve import open_node
from api.ingest.tracing import BATCH_SPAN, DEDUP_APPLY_SPAN, VERIFY_SPAN, WAL_APPEND_SPAN
from ledger.config import Settings
from ledger.tracing_config import TracingConfig
from storage.telemetry.tracing import TRACER_NAME, tracer_provider
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.tenants import body, register, tenant
from workers.client import connect
from workers.smoke import run_smoke

ACME = tenant("acme")
GLOBEX = tenant("globex")
SERVICE = "geoledger-tracing-test"


@pytest.fixture(scope="module")
async def settings(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path_factory.mktemp("tracing"), "trace")
    await register(settings, ACME, GLOBEX)
    return settings


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    # The provider [tracing] builds, its exporter swapped for one the test can read.
    provider = tracer_provider(TracingConfig(service_name=SERVICE), exporter)
    yield provider
    provider.shutdown()


@pytest.fixture(scope="module")
def tracer(provider: TracerProvider) -> trace.Tracer:
    return provider.get_tracer(TRACER_NAME)


def finished(provider: TracerProvider, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """Every span ended so far, then forgotten (spans leave the provider in batches)."""
    provider.force_flush()
    spans = list(exporter.get_finished_spans())
    exporter.clear()
    return spans


@pytest.fixture(scope="module")
async def node(settings: Settings, tracer: trace.Tracer) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(lambda: open_node(settings, "us", "n1", tracer=tracer))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node") as http,
    ):
        yield http


async def test_an_ingest_batch_is_one_span_over_its_steps(
    node: httpx.AsyncClient, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    first = ACME.event("order-1", {"total": 10})
    answer = await node.post("/v1/events", content=body([first, GLOBEX.event("order-1")]))
    assert answer.status_code == 200, answer.text
    finished(provider, exporter)

    # The caller's trace context is continued: the batch joins the client's trace.
    trace_id = uuid.uuid4().hex
    parent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    forged = {**ACME.event("order-2"), "signature": "A" * 86}
    answer = await node.post(
        "/v1/events", content=body([first, forged]), headers={"traceparent": parent}
    )
    assert [r["status"] for r in answer.json()["results"]] == ["duplicate", "rejected"]

    spans = finished(provider, exporter)
    [batch] = [span for span in spans if span.name == BATCH_SPAN]
    assert batch.context is not None and batch.parent is not None
    assert f"{batch.context.trace_id:032x}" == trace_id
    assert batch.resource.attributes["service.name"] == SERVICE
    assert dict(batch.attributes or {}) == {
        "geoledger.region": "us",
        "geoledger.node": "n1",
        "geoledger.tenant": "acme",
        "geoledger.batch.size": 2,
        "geoledger.results.duplicate": 1,
        "geoledger.results.rejected": 1,
    }
    steps = {span.name: span for span in spans if span.name != BATCH_SPAN}
    assert set(steps) == {VERIFY_SPAN, WAL_APPEND_SPAN, DEDUP_APPLY_SPAN}
    for step in steps.values():
        assert step.parent is not None and step.parent.span_id == batch.context.span_id


async def test_a_refused_batch_span_is_marked_failed(
    node: httpx.AsyncClient, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    answer = await node.post("/v1/events", content=b'{"events": []}')
    assert answer.status_code == 422

    [batch] = finished(provider, exporter)
    assert batch.name == BATCH_SPAN
    assert batch.status.status_code is trace.StatusCode.ERROR
    assert "geoledger.batch.size" not in (batch.attributes or {})


async def test_a_workers_activities_are_spans_in_the_workflows_trace(
    settings: Settings,
    tracer: trace.Tracer,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
) -> None:
    client = await connect(settings, tracer=tracer)
    workflow_id = f"smoke-tracing-{uuid.uuid4().hex[:8]}"
    await run_smoke(client, settings, workflow_id, task_queue=f"tracing-{uuid.uuid4()}")

    spans = finished(provider, exporter)
    [started] = [span for span in spans if span.name == "StartWorkflow:SmokeWorkflow"]
    activities = [span for span in spans if span.name.startswith("RunActivity:")]
    assert started.context is not None
    # One activity per region, each a span of the trace the client's start opened.
    assert sorted(span.name for span in activities) == ["RunActivity:smoke_object_round_trip"] * 2
    for span in activities:
        assert span.context is not None and span.parent is not None
        assert span.context.trace_id == started.context.trace_id
        assert (span.attributes or {})["temporalWorkflowID"] == workflow_id
