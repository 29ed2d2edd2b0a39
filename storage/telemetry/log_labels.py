"""The labels a log record carries where they apply: the ingest request sets its region, node and
tenant, an activity its workflow id, activity name and what its input names (workers/log_labels.py).

The labels live in one context variable, so each request and each activity, being its own asyncio
task, sees only its own; a task started inside one inherits them (asyncio copies the context).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType

# Every label a record may carry, in the order a JSON line shows them.
LABELS = ("region", "node", "shard", "tenant", "workflow_id", "activity")

Label = str | int | None

_current: ContextVar[Mapping[str, str]] = ContextVar(
    "geoledger_log_labels", default=MappingProxyType({})
)


class LabelScope:
    """The block `log_labels` returns: its labels are set on entry and the previous ones put
    back on exit. A plain class rather than a generator: the ingest node enters one per request."""

    __slots__ = ("_labels", "_token")

    def __init__(self, labels: dict[str, Label]) -> None:
        self._labels = labels
        self._token: Token[Mapping[str, str]] | None = None

    def __enter__(self) -> None:
        merged = dict(_current.get())
        for name, value in self._labels.items():
            if value is not None:
                merged[name] = str(value)
        self._token = _current.set(merged)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)


def log_labels(
    *,
    region: Label = None,
    node: Label = None,
    shard: Label = None,
    tenant: Label = None,
    workflow_id: Label = None,
    activity: Label = None,
) -> LabelScope:
    """A block in which every record made carries these labels (None leaves one out) over those
    already set. Keyword-only, one parameter per name in LABELS: a misspelt label is a TypeError
    rather than a label that silently never shows."""
    return LabelScope(
        {
            "region": region,
            "node": node,
            "shard": shard,
            "tenant": tenant,
            "workflow_id": workflow_id,
            "activity": activity,
        }
    )


def current_labels() -> Mapping[str, str]:
    """The labels set where the caller runs (empty outside any `log_labels` block); read-only."""
    return _current.get()
