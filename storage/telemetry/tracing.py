"""OpenTelemetry tracing as `[tracing]` configures it: a tracer provider with the configured
exporter, sampler and service name, installed once per process.

With `exporter = "none"` nothing is built or installed: callers get no tracer and skip their spans
(the ingest node) or their interceptor (Temporal clients), so tracing off costs nothing.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from ledger.tracing_config import TracingConfig

# The instrumentation scope of geoledger's own spans.
TRACER_NAME = "geoledger"

_process_provider: TracerProvider | None = None
_process_tracer: trace.Tracer | None = None


def span_exporter(config: TracingConfig) -> SpanExporter | None:
    """The exporter `config.exporter` names; None for "none"."""
    if config.exporter == "otlp":
        # Imported here: it pulls in an HTTP client and protobuf, which "none" and "console" skip.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=config.otlp_endpoint)
    if config.exporter == "console":
        return ConsoleSpanExporter(service_name=config.service_name)
    return None


def tracer_provider(config: TracingConfig, exporter: SpanExporter) -> TracerProvider:
    """A provider that samples `config.sample_ratio` of new traces (a child follows its parent's
    decision), names `config.service_name`, and hands finished spans to `exporter` in batches,
    off the request's path."""
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: config.service_name}),
        sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def process_tracer(config: TracingConfig) -> trace.Tracer | None:
    """The process's tracer under `config`, None when tracing is off. The first call with an
    exporter installs its provider as the process's global one (which is settable once); later
    calls return the same tracer."""
    global _process_provider, _process_tracer
    if config.exporter == "none":
        return None
    if _process_tracer is None:
        exporter = span_exporter(config)
        assert exporter is not None  # every exporter but "none" is built
        _process_provider = tracer_provider(config, exporter)
        trace.set_tracer_provider(_process_provider)
        _process_tracer = _process_provider.get_tracer(TRACER_NAME)
    return _process_tracer


def shutdown_tracing() -> None:
    """Export the spans still waiting for their batch and stop the process's provider; nothing
    when none was installed. The provider does this at interpreter exit, which a process leaving
    through os._exit skips (cli/main.py)."""
    if _process_provider is not None:
        _process_provider.shutdown()
