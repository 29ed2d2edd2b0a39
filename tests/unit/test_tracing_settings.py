"""[tracing] as the processes apply it: "none" installs nothing anywhere; the sample ratio decides
which new traces are recorded, and a child follows its parent's decision."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.contrib.opentelemetry import TracingInterceptor

from api.ingest.tracing import batch_span, stage_span
from ledger.tracing_config import TracingConfig
from storage.telemetry.tracing import process_tracer, tracer_provider
from workers.client import client_interceptors


def test_none_installs_no_provider_no_interceptor_and_no_span() -> None:
    assert process_tracer(TracingConfig()) is None
    # The API's own placeholder: no SDK provider was installed for the process.
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    assert not any(isinstance(i, TracingInterceptor) for i in client_interceptors(None))
    with batch_span(None, {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}) as span:
        assert span is None
        assert not trace.get_current_span().get_span_context().is_valid
    assert batch_span(None, None) is stage_span(None, "ingest.verify")


def recorded(ratio: float, parent_sampled: bool | None = None) -> int:
    exporter = InMemorySpanExporter()
    provider = tracer_provider(TracingConfig(sample_ratio=ratio), exporter)
    tracer = provider.get_tracer("test")
    carrier = None
    if parent_sampled is not None:
        carrier = {"traceparent": f"00-{'a' * 32}-{'b' * 16}-{'01' if parent_sampled else '00'}"}
    for _ in range(50):
        with batch_span(tracer, carrier):
            pass
    provider.force_flush()
    provider.shutdown()
    return len(exporter.get_finished_spans())


def test_the_sample_ratio_decides_new_traces_and_parents_decide_their_children() -> None:
    assert (recorded(0.0), recorded(1.0)) == (0, 50)
    assert (recorded(0.0, parent_sampled=True), recorded(1.0, parent_sampled=False)) == (50, 0)
