"""Settings of OpenTelemetry tracing: `[tracing]`.

Off by default (`exporter = "none"`): then no tracer provider is installed, the ingest node skips
its spans and Temporal clients and workers run without the tracing interceptor, so the hot path
pays nothing. "otlp" sends spans over OTLP/HTTP (protobuf) to `otlp_endpoint`, the collector's
traces URL; "console" prints them as JSON on standard output, for a look on one machine.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TraceExporter = Literal["none", "otlp", "console"]


class TracingConfig(BaseModel):
    """[tracing]: read by `geoledger ingest serve`, `geoledger worker run` and every command that
    starts workflows through a Temporal client."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exporter: TraceExporter = "none"
    # An OpenTelemetry collector's OTLP/HTTP traces endpoint (the path included).
    otlp_endpoint: str = Field(default="http://127.0.0.1:4318/v1/traces", min_length=1)
    # The service.name resource attribute every span of the process carries.
    service_name: str = Field(default="geoledger", min_length=1)
    # The share of new traces recorded; a trace that arrives with a parent follows its decision.
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
