"""One Temporal client per process, with the pydantic data converter that every client and worker
shares, and one SDK `Runtime` that exports the SDK's own `temporal_*` metrics."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from ledger.config import Settings

_runtime: Runtime | None = None


def sdk_runtime(bind_address: str | None) -> Runtime:
    """The process-wide runtime; with `bind_address`, SDK metrics are served there in Prometheus
    format. Created once, before the first client connects."""
    global _runtime
    if _runtime is None:
        metrics = PrometheusConfig(bind_address=bind_address) if bind_address else None
        _runtime = Runtime(telemetry=TelemetryConfig(metrics=metrics))
    return _runtime


def sdk_runtime_started() -> bool:
    """Whether this process created the SDK runtime (and with it the SDK's native threads)."""
    return _runtime is not None


async def connect(settings: Settings, sdk_metrics_address: str | None = None) -> Client:
    return await Client.connect(
        settings.temporal.address,
        namespace=settings.temporal.namespace,
        data_converter=pydantic_data_converter,
        runtime=sdk_runtime(sdk_metrics_address),
    )
