"""Activity of the smoke workflow: write an object to a region's store and read it back."""

from __future__ import annotations

import hashlib
import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.names import SMOKE_OBJECT_ROUND_TRIP
from activities.smoke_models import ObjectRoundTripInput, ObjectRoundTripResult
from ledger import error_types
from ledger.config import Settings
from storage.faults import fail_point
from storage.objectstore import ObjectStoreError, open_object_store

log = logging.getLogger("geoledger.smoke")


class SmokeActivities:
    """The smoke workflow's activity, over the object stores the settings configure."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn(name=SMOKE_OBJECT_ROUND_TRIP)
    async def object_round_trip(self, request: ObjectRoundTripInput) -> ObjectRoundTripResult:
        """Put a deterministic object, get it back and compare the bytes."""
        fail_point(SMOKE_OBJECT_ROUND_TRIP)  # a bad build to rehearse a canary rollback
        store = open_object_store(self._settings.region(request.region).object_store)
        data = hashlib.sha256(request.key.encode()).digest() * (request.size // 32 + 1)
        data = data[: request.size]
        try:
            await store.put(request.key, data)
            echoed = await store.get(request.key)
        except ObjectStoreError as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__) from exc
        if echoed != data:
            raise ApplicationError(
                f"{store.describe()}/{request.key}: read back {len(echoed)} bytes that differ "
                f"from the {len(data)} written",
                type=error_types.SMOKE_MISMATCH,
                non_retryable=True,
            )
        log.info("%d bytes went through %s/%s and back", len(data), store.describe(), request.key)
        return ObjectRoundTripResult(
            region=request.region,
            store=store.describe(),
            key=request.key,
            bytes=len(data),
            sha256=hashlib.sha256(echoed).hexdigest(),
        )
