"""The audit DLQ on the real Postgres: a task landing again counts its attempts on its one open
row, replay and purge change the state and keep the row, and a purge names who and why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from storage.audit import (
    DlqEntryNotFound,
    DlqStateError,
    dlq_add,
    dlq_get,
    dlq_list,
    dlq_mark_replayed,
    dlq_purge,
)
from tests.conftest import RunningStack
from tests.integration.audit_support import fresh_control_pool

pytestmark = pytest.mark.timeout(120)
TASK = {"task_type": "enrich_worm", "idempotency_key": "us/n1/00000000000000000001"}


@pytest.fixture
async def pool(running_stack: RunningStack) -> AsyncIterator[Any]:
    async with fresh_control_pool(running_stack, "auditdlq") as pool:
        yield pool


async def _add(pool: Any, error: str, attempts: int = 5, **task: str) -> Any:
    return await dlq_add(
        pool,
        **{**TASK, **task},
        workflow_id="audit-segment-us-n1-00000000000000000001",
        input={"stream": "us/n1", "first_seq": 1},
        error=error,
        attempts=attempts,
    )


async def test_a_task_landing_again_counts_on_its_open_row(pool: Any) -> None:
    first = await _add(pool, "store unavailable")
    again = await _add(pool, "store still unavailable", attempts=3)
    assert again.id == first.id and again.attempts == 8 and again.error == "store still unavailable"
    assert again.first_failure == first.first_failure and again.last_failure >= first.last_failure
    other = await _add(pool, "boom", idempotency_key="us/n1/00000000000000000004")
    assert [e.id for e in await dlq_list(pool)] == [first.id, other.id]
    assert (await dlq_get(pool, first.id)) == again
    assert again.input == {"stream": "us/n1", "first_seq": 1}


async def test_replay_and_purge_keep_the_row_as_its_record(pool: Any) -> None:
    replayed = await dlq_mark_replayed(pool, (await _add(pool, "x")).id)
    assert replayed.state == "replayed" and replayed.replayed_at is not None
    assert await dlq_mark_replayed(pool, replayed.id) == replayed
    # Failing again after a replay opens a new row.
    reopened = await _add(pool, "y")
    assert reopened.id != replayed.id and reopened.attempts == 5
    with pytest.raises(DlqStateError, match="operator and a reason"):
        await dlq_purge(pool, reopened.id, operator="alice", reason=" ")
    purged = await dlq_purge(pool, reopened.id, operator="alice", reason="segment re-shipped")
    assert (purged.state, purged.purged_by, purged.purge_reason) == (
        "purged",
        "alice",
        "segment re-shipped",
    )
    with pytest.raises(DlqStateError, match="got purged"):
        await dlq_mark_replayed(pool, purged.id)
    with pytest.raises(DlqStateError, match="got replayed"):
        await dlq_purge(pool, replayed.id, operator="alice", reason="r")
    with pytest.raises(DlqEntryNotFound):
        await dlq_purge(pool, 999, operator="alice", reason="r")
    assert await dlq_list(pool) == []
    assert [e.state for e in await dlq_list(pool, state=None)] == ["replayed", "purged"]
