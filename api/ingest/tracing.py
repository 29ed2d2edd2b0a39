"""The spans of one ingest batch: `ingest.batch` (region, node, tenant, batch size, then the count
of each result) over the child spans `ingest.verify`, `ingest.wal_append` (append + fsync) and
`ingest.dedup_apply`.

A node without a tracer (`[tracing] exporter = "none"`) gets shared no-op context managers here:
no span object, no attribute, no clock read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager

from opentelemetry import propagate, trace

from api.ingest.batch import BatchItem
from api.ingest.results import Status

BATCH_SPAN = "ingest.batch"
VERIFY_SPAN = "ingest.verify"
WAL_APPEND_SPAN = "ingest.wal_append"
DEDUP_APPLY_SPAN = "ingest.dedup_apply"

_NO_SPAN: AbstractContextManager[None] = contextlib.nullcontext()


def batch_span(
    tracer: trace.Tracer | None, trace_parent: Mapping[str, str] | None
) -> AbstractContextManager[trace.Span | None]:
    """The span of one request's batch, continuing the caller's trace when `trace_parent` (the
    request's headers) carries W3C trace context; an exception leaving it marks it failed."""
    if tracer is None:
        return _NO_SPAN
    parent = propagate.extract(trace_parent) if trace_parent is not None else None
    return tracer.start_as_current_span(BATCH_SPAN, context=parent, kind=trace.SpanKind.SERVER)


def stage_span(tracer: trace.Tracer | None, name: str) -> AbstractContextManager[object]:
    """A child span of the batch's for one step."""
    if tracer is None:
        return _NO_SPAN
    return tracer.start_as_current_span(name)


def batch_tenant(items: Iterable[BatchItem]) -> str | None:
    """The batch's tenant, as its span and log records name it: the tenants' ids, sorted and
    comma-separated when it holds several; None when no event names one."""
    tenants = sorted({item.tenant_id for item in items if item.tenant_id is not None})
    return ",".join(tenants) or None


def describe_batch(span: trace.Span, region: str, node: str, tenant: str | None, size: int) -> None:
    """What the batch is: where it arrived, whose events, how many."""
    span.set_attribute("geoledger.region", region)
    span.set_attribute("geoledger.node", node)
    if tenant is not None:
        span.set_attribute("geoledger.tenant", tenant)
    span.set_attribute("geoledger.batch.size", size)


def describe_results(span: trace.Span, statuses: Mapping[Status, int]) -> None:
    """How the batch was answered: `geoledger.results.<status>` for each status it got."""
    for status, count in statuses.items():
        span.set_attribute(f"geoledger.results.{status}", count)
