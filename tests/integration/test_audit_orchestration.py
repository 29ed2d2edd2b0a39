"""AnchorLogWorkflow and AuditSegmentWorkflow on the embedded Temporal server with scripted
activities: the orchestration alone (when a batch closes, what reaches the dead-letter queue,
what a replay signal resumes, what continue-as-new carries). The same workflows run with the
real activities in tests/e2e/test_audit_two_regions.py; here each activity is a few lines of
pure bookkeeping so every branch can be driven on purpose."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.audit_models import (
    AnchorBatchInput,
    AnchorBatchResult,
    AnchorLogInput,
    AnchorSettings,
    AnchorStatus,
    AttestInput,
    AttestResult,
    AuditSegmentInput,
    AuditTaskType,
    DiscoverInput,
    DiscoverResult,
    DlqRecordInput,
    SegmentToAudit,
)
from activities.names import (
    ANCHOR_BATCH,
    ATTEST_EXTERNAL,
    AUDIT_DISCOVER,
    AUDIT_DLQ_RECORD,
    ENRICH_WORM,
)
from ledger import error_types
from ledger.audit_models import AnchoredBatch, EnrichedSegment
from tests.conftest import RunningStack
from workers.client import connect
from workflows.audit_anchor import AnchorLogWorkflow
from workflows.audit_ids import RETRY_ANCHOR, anchor_workflow_id, audit_segment_workflow_id
from workflows.audit_segment import AuditSegmentWorkflow

pytestmark = pytest.mark.timeout(120)

LEAVES_PER_SEGMENT = 10


@dataclass
class Script:
    """What the scripted activities hold: segments to hand out, the log, and what failed."""

    region: str
    segments: list[SegmentToAudit] = field(default_factory=list)
    poisoned: set[str] = field(default_factory=set)  # idempotency keys whose enrich fails
    anchor_fails: bool = False
    fork: bool = False
    enriched: dict[str, int] = field(default_factory=dict)
    log_size: int = 0
    batches: dict[int, tuple[int, int]] = field(default_factory=dict)  # batch -> sizes
    attested: list[int] = field(default_factory=list)
    dead_letters: list[DlqRecordInput] = field(default_factory=list)

    def waiting(self) -> int:
        return sum(self.enriched.values()) - self.log_size

    @activity.defn(name=AUDIT_DISCOVER)
    async def discover(self, request: DiscoverInput) -> DiscoverResult:
        cursors = dict(request.cursors or {})
        found = [s for s in self.segments if s.first_seq > cursors.get(s.stream, 0)]
        found = found[: request.limit]
        for segment in found:
            cursors[segment.stream] = segment.last_seq
        if not found:
            await asyncio.sleep(min(request.wait_s, 0.2))
        return DiscoverResult(segments=found, cursors=cursors)

    @activity.defn(name=ENRICH_WORM)
    async def enrich(self, segment: SegmentToAudit) -> EnrichedSegment:
        if segment.idempotency_key in self.poisoned:
            raise ApplicationError("worm store refused the write")
        leaves = segment.last_seq - segment.first_seq + 1
        self.enriched[segment.idempotency_key] = leaves
        return EnrichedSegment(
            stream=segment.stream,
            first_seq=segment.first_seq,
            last_seq=segment.last_seq,
            records=leaves,
            manifest_sha256="00" * 32,
            worm_key=f"audit/{segment.idempotency_key}",
            worm_version="1",
            leaves_sha256="00" * 32,
        )

    @activity.defn(name=ANCHOR_BATCH)
    async def anchor(self, request: AnchorBatchInput) -> AnchorBatchResult:
        if self.anchor_fails:
            raise ApplicationError("control database refused the append")
        # Like storage/audit/append.py: idempotent by batch number, and every batch stores a
        # checkpoint, even one that appends nothing.
        if request.batch not in self.batches:
            old_size = self.log_size
            self.log_size += min(self.waiting(), request.max_leaves)
            self.batches[request.batch] = (old_size, self.log_size)
        old_size, size = self.batches[request.batch]
        anchored = AnchoredBatch(
            batch=request.batch, old_size=old_size, size=size, root_hex="ab" * 32, segments=1
        )
        return AnchorBatchResult(anchored=anchored, waiting=self.waiting())

    @activity.defn(name=ATTEST_EXTERNAL)
    async def attest(self, request: AttestInput) -> AttestResult:
        if self.fork:
            raise ApplicationError("witness-eu: 409", type=error_types.AUDIT_FORK)
        self.attested.append(request.batch)
        size = self.batches[request.batch][1]
        return AttestResult(size=size, cosigned=["w"], skipped=[], failed=[])

    @activity.defn(name=AUDIT_DLQ_RECORD)
    async def dead_letter(self, request: DlqRecordInput) -> None:
        self.dead_letters.append(request)


@pytest.fixture(scope="module")
async def harness(running_stack: RunningStack) -> AsyncIterator[tuple[Client, str]]:
    client = await connect(running_stack.settings)
    yield client, f"audit-orchestration-{uuid.uuid4()}"


def _segments(region: str, node: str, count: int) -> list[SegmentToAudit]:
    return [
        SegmentToAudit(
            region=region,
            stream=f"{region}/{node}",
            first_seq=n * LEAVES_PER_SEGMENT + 1,
            last_seq=(n + 1) * LEAVES_PER_SEGMENT,
            manifest_key=f"manifests/{n:020d}.json",
        )
        for n in range(count)
    ]


def _settings(**changes: float) -> AnchorSettings:
    values: dict[str, float] = {
        "batch_max_leaves": 25,
        "batch_max_age_s": 1.0,
        "discover_wait_s": 0.2,
        "segments_per_round": 4,
        "task_max_attempts": 2,
    }
    values.update(changes)
    return AnchorSettings.model_validate(values)


async def _run(
    client: Client, task_queue: str, script: Script, settings: AnchorSettings
) -> WorkflowHandle[AnchorLogWorkflow, None]:
    return await client.start_workflow(
        AnchorLogWorkflow.run,
        AnchorLogInput(region=script.region, settings=settings),
        id=anchor_workflow_id(script.region),
        task_queue=task_queue,
    )


async def _until(handle: WorkflowHandle[AnchorLogWorkflow, None], check: object) -> AnchorStatus:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        status = await handle.query(AnchorLogWorkflow.status)
        if check(status):  # type: ignore[operator]
            return status
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out; last status {status}")
        await asyncio.sleep(0.1)


def _region() -> str:
    return f"r{uuid.uuid4().hex[:10]}"


def _worker(client: Client, task_queue: str, script: Script) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[AnchorLogWorkflow, AuditSegmentWorkflow],
        activities=[
            script.discover,
            script.enrich,
            script.anchor,
            script.attest,
            script.dead_letter,
        ],
    )


async def test_batches_close_by_size_then_by_age_and_each_checkpoint_is_attested(
    harness: tuple[Client, str],
) -> None:
    client, _ = harness
    task_queue = f"audit-{uuid.uuid4()}"
    region = _region()
    # 7 segments of 10 leaves: the size cap (25) closes batches of 25 and 25, age the last 20.
    script = Script(region, _segments(region, "n1", 7))
    async with _worker(client, task_queue, script):
        handle = await _run(client, task_queue, script, _settings())
        status = await _until(handle, lambda s: s.state.checkpoint_size == 70)
        await _until(handle, lambda s: s.state.attested_batch == s.state.next_batch - 1)
        await handle.terminate("test over")
    assert [size for _, size in script.batches.values()] == [25, 50, 70]
    assert status.state.segments_enriched == 7 and status.state.pending_leaves == 0
    assert script.attested[-1] == max(script.batches)
    assert not script.dead_letters


async def test_a_poisoned_segment_lands_in_the_dead_letter_queue_and_a_replay_anchors_it(
    harness: tuple[Client, str],
) -> None:
    client, _ = harness
    task_queue = f"audit-{uuid.uuid4()}"
    region = _region()
    segments = _segments(region, "n1", 3)
    script = Script(region, segments, poisoned={segments[1].idempotency_key})
    async with _worker(client, task_queue, script):
        handle = await _run(client, task_queue, script, _settings(batch_max_leaves=1000))
        status = await _until(handle, lambda s: s.state.segments_dead_lettered == 1)
        await _until(handle, lambda s: s.state.checkpoint_size == 20)
        [letter] = script.dead_letters
        assert letter.task_type is AuditTaskType.ENRICH_WORM
        assert letter.idempotency_key == segments[1].idempotency_key
        assert letter.attempts == 2 and "refused the write" in letter.error
        assert letter.workflow_id == audit_segment_workflow_id(segments[1].stream, 11)

        # The fault is fixed; the operator replays: the segment workflow runs again, signals.
        script.poisoned.clear()
        replay = SegmentToAudit.model_validate(letter.input)
        await client.execute_workflow(
            AuditSegmentWorkflow.run,
            AuditSegmentInput(segment=replay, max_attempts=2, notify_anchor=True),
            id=letter.workflow_id,
            task_queue=task_queue,
        )
        status = await _until(handle, lambda s: s.state.checkpoint_size == 30)
        await handle.terminate("test over")
    assert status.state.segments_enriched == 2  # the replayed one reported by signal


async def test_a_failing_batch_blocks_anchoring_until_its_replay(
    harness: tuple[Client, str],
) -> None:
    client, _ = harness
    task_queue = f"audit-{uuid.uuid4()}"
    region = _region()
    script = Script(region, _segments(region, "n1", 2), anchor_fails=True)
    async with _worker(client, task_queue, script):
        handle = await _run(client, task_queue, script, _settings())
        status = await _until(handle, lambda s: s.state.anchor_blocked)
        [letter] = script.dead_letters
        assert letter.task_type is AuditTaskType.ANCHOR_BATCH
        assert letter.idempotency_key == "batch@1"
        assert status.state.checkpoint_size == 0 and status.state.pending_leaves == 20

        script.anchor_fails = False
        await handle.signal(RETRY_ANCHOR)
        status = await _until(handle, lambda s: s.state.checkpoint_size == 20)
        await handle.terminate("test over")
    assert not status.state.anchor_blocked and script.batches == {1: (0, 20)}


async def test_a_fork_is_dead_lettered_at_once_and_the_log_goes_on(
    harness: tuple[Client, str],
) -> None:
    client, _ = harness
    task_queue = f"audit-{uuid.uuid4()}"
    region = _region()
    script = Script(region, _segments(region, "n1", 1), fork=True)
    async with _worker(client, task_queue, script):
        handle = await _run(client, task_queue, script, _settings(task_max_attempts=5))
        status = await _until(handle, lambda s: s.state.attested_batch == 1)
        await handle.terminate("test over")
    [letter] = script.dead_letters
    assert letter.task_type is AuditTaskType.ATTEST_EXTERNAL
    assert letter.attempts == 1  # non-retryable: never retried into silence
    assert status.state.checkpoint_size == 10
    assert "409" in (status.state.last_error or "")
