"""RestoreWorkflow: makes one archived cold pack of a tenant readable again (ARCHITECTURE §3
"Tiering", S3 GLACIER / DEEP_ARCHIVE). It asks the region's object store for a restored copy
(`tier_restore_request`) and waits until the copy reads (`tier_restore_wait`, one heartbeated
activity polling the store), then ends; reads of the pack's bodies answer "restoring, retry
after ..." until then.

Task queue `geoledger-tiering`. Id `tier-restore-<region>-<tenant>-<pack_id>`: every read of any
body of the pack while it is being restored finds this run (conflict policy USE_EXISTING) instead of
asking again; once it has ended, a later read (the copy expired) starts a new run under the same
id. Payloads carry the tenant, region and pack id, never bodies.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.names import TIER_RESTORE_REQUEST, TIER_RESTORE_WAIT
    from activities.tiering_models import RestorePackInput
    from ledger import error_types

WORKFLOW_ID_PREFIX = "tier-restore"

# An unreachable store is retried with backoff, forever; a pack that is gone is not.
RESTORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[error_types.TIERING_INPUT, error_types.RESTORE_IMPOSSIBLE],
)
# DEEP_ARCHIVE bulk retrievals take up to 48 hours; the wait heartbeats at every poll.
WAIT_TIMEOUT = timedelta(days=3)


def restore_workflow_id(region: str, tenant: str, pack_id: str) -> str:
    """The id of the restore of `tenant`'s pack `pack_id` in `region`'s store (pack ids are
    content addresses: two regions may hold the same pack, each restoring its own copy)."""
    return f"{WORKFLOW_ID_PREFIX}-{region}-{tenant}-{pack_id}"


@workflow.defn
class RestoreWorkflow:
    """Restores one archived pack and ends once it reads."""

    @workflow.run
    async def run(self, request: RestorePackInput) -> str:
        """The pack's status once it reads: `restored` (or `readable`: it was never archived)."""
        await workflow.execute_activity(
            TIER_RESTORE_REQUEST,
            request,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RESTORE_RETRY,
        )
        status: str = await workflow.execute_activity(
            TIER_RESTORE_WAIT,
            request,
            result_type=str,
            start_to_close_timeout=WAIT_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=max(30.0, 3 * request.poll_interval_s)),
            retry_policy=RESTORE_RETRY,
        )
        return status
