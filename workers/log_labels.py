"""The labels of every activity's log records (storage/telemetry/log_labels.py): its workflow id
and activity name, and the region, node, shard and tenant its one input names.

Installed on every client workers/client.py connects, so each worker built on such a client runs
its activities under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio import activity, client, worker

from storage.telemetry.log_labels import Label, log_labels


class LogLabelsInterceptor(client.Interceptor, worker.Interceptor):
    """Runs each activity inside `log_labels` of its workflow, name and input."""

    def intercept_activity(
        self, next: worker.ActivityInboundInterceptor
    ) -> worker.ActivityInboundInterceptor:
        """Wrap the activity's execution (temporalio.worker.Interceptor)."""
        return _LabelledActivity(next)


class _LabelledActivity(worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: worker.ExecuteActivityInput) -> Any:
        info = activity.info()
        with log_labels(
            workflow_id=info.workflow_id, activity=info.activity_type, **input_labels(input.args)
        ):
            return await self.next.execute_activity(input)


def input_labels(args: Sequence[Any]) -> dict[str, Label]:
    """The region, node, shard and tenant an activity's input names: its own fields of those
    names (`tenant_id` for the tenant), else its `source` stream's (activities/crr_models.py).
    Every activity takes one typed argument; anything else names nothing."""
    if len(args) != 1:
        return {}
    request = args[0]
    source = getattr(request, "source", None)
    return {
        "region": _field(request, "region") or _field(source, "region"),
        "node": _field(request, "node") or _field(source, "node"),
        "shard": _field(request, "shard"),
        "tenant": _field(request, "tenant") or _field(request, "tenant_id"),
    }


def _field(model: Any, name: str) -> Label:
    value = getattr(model, name, None)
    # A bool is an int too, and no label is a flag.
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return value
