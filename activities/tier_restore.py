"""Activities of RestoreWorkflow: ask the region's object store to restore a tenant's archived
pack, then wait, heartbeating, until the restored copy reads (names: activities/names.py,
payloads: activities/tiering_models.py).

Both are idempotent: a restore already asked for or done is no error (S3 RestoreObject answers
200 or RestoreAlreadyInProgress), and waiting on a copy that is ready returns at once. A store
that cannot be reached retries; a pack that is gone, or a store without archives, is
non-retryable and names the pack.
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.names import TIER_RESTORE_REQUEST, TIER_RESTORE_WAIT
from activities.tiering import TieringResources
from activities.tiering_models import RestorePackInput
from ledger import error_types
from ledger.envelope import check_tenant_id
from storage.objectstore import ObjectNotFound, ObjectStore, RestoreNotSupported, RestoreStatus
from storage.tiering.packs import pack_key


class RestoreActivities:
    """The restore activities of the tiering queue, on the worker's per-region stores."""

    def __init__(self, resources: TieringResources) -> None:
        self._resources = resources

    @activity.defn(name=TIER_RESTORE_REQUEST)
    async def request(self, request: RestorePackInput) -> RestoreStatus:
        """Ask for a copy of the pack kept `days` days; the pack's status right after."""
        store, key = self._pack(request)
        try:
            await store.restore(key, request.days)
            return await store.restore_status(key)
        except (ObjectNotFound, RestoreNotSupported) as exc:
            raise _cannot_restore(exc) from exc

    @activity.defn(name=TIER_RESTORE_WAIT)
    async def wait(self, request: RestorePackInput) -> RestoreStatus:
        """Ask the store every `poll_interval_s` until the pack reads (restored, or never
        archived), heartbeating the status each time."""
        store, key = self._pack(request)
        while True:
            try:
                status = await store.restore_status(key)
            except (ObjectNotFound, RestoreNotSupported) as exc:
                raise _cannot_restore(exc) from exc
            activity.heartbeat(status.value)
            if status in (RestoreStatus.RESTORED, RestoreStatus.READABLE):
                return status
            if status is RestoreStatus.ARCHIVED:
                # The copy expired (or the request was lost) before this wait saw it: ask again.
                await store.restore(key, request.days)
            await asyncio.sleep(request.poll_interval_s)

    def _pack(self, request: RestorePackInput) -> tuple[ObjectStore, str]:
        try:
            check_tenant_id(request.tenant)
            key = pack_key(request.tenant, request.pack_id)
        except ValueError as exc:
            raise ApplicationError(
                f"restore: {exc}", type=error_types.TIERING_INPUT, non_retryable=True
            ) from None
        return self._resources.store(request.region), key


def _cannot_restore(exc: Exception) -> ApplicationError:
    return ApplicationError(str(exc), type=error_types.RESTORE_IMPOSSIBLE, non_retryable=True)
