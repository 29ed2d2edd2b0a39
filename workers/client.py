"""One Temporal client per process, with the pydantic data converter that every client and worker
shares, the interceptors every worker built on it inherits (log labels; tracing when [tracing] is
on), and one SDK `Runtime` that exports the SDK's own `temporal_*` metrics."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from temporalio.client import Client, Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from ledger.config import Settings
from storage.telemetry.tracing import process_tracer
from workers.log_labels import LogLabelsInterceptor
from workers.temporal_tls import temporal_tls

_runtime: Runtime | None = None


def sdk_runtime(bind_address: str | None, tags: Mapping[str, str] | None = None) -> Runtime:
    """The process-wide runtime; with `bind_address`, SDK metrics are served there in Prometheus
    format, each labelled with `tags` (a versioned worker's deployment and build id). Created
    once, before the first client connects."""
    global _runtime
    if _runtime is None:
        metrics = PrometheusConfig(bind_address=bind_address) if bind_address else None
        _runtime = Runtime(telemetry=TelemetryConfig(metrics=metrics, global_tags=dict(tags or {})))
    return _runtime


def sdk_runtime_started() -> bool:
    """Whether this process created the SDK runtime (and with it the SDK's native threads)."""
    return _runtime is not None


def client_interceptors(tracer: trace.Tracer | None) -> list[Interceptor]:
    """Log labels for every activity; with `tracer`, spans for starting workflows and for every
    workflow run and activity, each in the trace of whoever started the workflow."""
    interceptors: list[Interceptor] = [LogLabelsInterceptor()]
    if tracer is not None:
        # Most workflows start from schedules or as children of long-running ones, with no
        # client span to hang under: without this each of their activities would be a trace of
        # its own, not a span of its workflow's.
        interceptors.append(TracingInterceptor(tracer, always_create_workflow_spans=True))
    return interceptors


async def connect(
    settings: Settings,
    sdk_metrics_address: str | None = None,
    tracer: trace.Tracer | None = None,
    sdk_metric_tags: Mapping[str, str] | None = None,
) -> Client:
    """A client of `settings.temporal` whose workers trace with `tracer`, by default the
    process's under [tracing] (no tracing while it is off); `sdk_metric_tags` label the SDK
    metrics of the process when this is its first client."""
    return await Client.connect(
        settings.temporal.address,
        namespace=settings.temporal.namespace,
        tls=temporal_tls(settings.temporal),
        data_converter=pydantic_data_converter,
        runtime=sdk_runtime(sdk_metrics_address, sdk_metric_tags),
        interceptors=client_interceptors(tracer or process_tracer(settings.tracing)),
    )
