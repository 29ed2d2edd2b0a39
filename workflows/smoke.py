"""SmokeWorkflow: proves the stack end to end - Temporal runs an activity that writes and reads an
object in every region's store."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.names import SMOKE_OBJECT_ROUND_TRIP
    from activities.smoke_models import ObjectRoundTripInput, ObjectRoundTripResult


class SmokeInput(BaseModel):
    """Input of SmokeWorkflow: the regions whose stores are tried and the object key to use."""

    regions: list[str]
    object_key: str = "smoke/roundtrip.bin"


class SmokeResult(BaseModel):
    """One round trip per region, in the order the input lists them."""

    round_trips: list[ObjectRoundTripResult]


@workflow.defn
class SmokeWorkflow:
    """One object round trip through each region's store."""

    @workflow.run
    async def run(self, request: SmokeInput) -> SmokeResult:
        """Round-trip an object through each region's store in turn; fails when a store stays
        unreachable or reads back different bytes."""
        results: list[ObjectRoundTripResult] = []
        for region in request.regions:
            result = await workflow.execute_activity(
                SMOKE_OBJECT_ROUND_TRIP,
                ObjectRoundTripInput(region=region, key=request.object_key),
                result_type=ObjectRoundTripResult,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=5)),
            )
            results.append(result)
        return SmokeResult(round_trips=results)
