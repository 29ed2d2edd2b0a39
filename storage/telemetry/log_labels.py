"""The labels a log record carries where they apply: the ingest request sets its region, node and
tenant, an activity its workflow id, activity name and what its input names (workers/log_labels.py).

The labels live in one context variable, so each request and each activity, being its own asyncio
task, sees only its own; a task started inside one inherits them (asyncio copies the context).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType

# Every label a record may carry, in the order a JSON line shows them.
LABELS = ("region", "node", "shard", "tenant", "workflow_id", "activity")

_NONE: Mapping[str, str] = MappingProxyType({})
_current: ContextVar[Mapping[str, str]] = ContextVar("geoledger_log_labels", default=_NONE)


@contextlib.contextmanager
def log_labels(**labels: str | int | None) -> Iterator[None]:
    """Add `labels` (names from LABELS; None leaves one out) to every record made in the block,
    over those already set.

    Raises ValueError for a name not in LABELS, so a misspelt label cannot vanish silently.
    """
    unknown = set(labels) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown log labels {sorted(unknown)}; known: {', '.join(LABELS)}")
    merged = dict(_current.get())
    merged.update((name, str(value)) for name, value in labels.items() if value is not None)
    token = _current.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _current.reset(token)


def current_labels() -> Mapping[str, str]:
    """The labels set where the caller runs (empty outside any `log_labels` block)."""
    return _current.get()
