"""What each task queue runs: its workflows and the activities they call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from activities.smoke import SmokeActivities
from ledger.config import Settings
from workflows import queues
from workflows.smoke import SmokeWorkflow


@dataclass(frozen=True)
class QueueRegistration:
    workflows: Sequence[type]
    activities: Sequence[Callable[..., Any]]


def registration_for(queue: str, settings: Settings) -> QueueRegistration:
    """The workflows and activities a worker on `queue` registers.

    Raises `KeyError` naming the known queues when `queue` is not one of ours.
    """
    if queue == queues.OPS:
        smoke = SmokeActivities(settings)
        return QueueRegistration(workflows=[SmokeWorkflow], activities=[smoke.object_round_trip])
    if queue in queues.SHARED_QUEUES:
        # Queues whose features are not deployed yet poll nothing harmful: an empty registration
        # is refused by the SDK, so say so instead.
        raise KeyError(f"task queue {queue!r} has nothing registered yet")
    raise KeyError(f"unknown task queue {queue!r}; known: {', '.join(queues.SHARED_QUEUES)}")
