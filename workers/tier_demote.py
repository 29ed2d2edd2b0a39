"""`geoledger tier demote`: one DemotionWorkflow of a tenant, started now (and awaited when
asked), with the tenant as its GeoTenant search attribute."""

from __future__ import annotations

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from ledger import search_attributes
from ledger.envelope import check_tenant_id
from workflows.demotion import (
    DemotionInput,
    DemotionStatus,
    DemotionWorkflow,
    demotion_workflow_id,
)

GEO_TENANT = SearchAttributeKey.for_keyword(search_attributes.GEO_TENANT)


def demotion_input(tenant: str, as_of_ms: int | None, bytes_per_s: int) -> DemotionInput:
    """The input of a demotion of `tenant`, TTLs counted to `as_of_ms` (None: its start).

    Raises ValueError for a malformed tenant id.
    """
    check_tenant_id(tenant)
    return DemotionInput(tenant=tenant, as_of_ms=as_of_ms, bytes_per_s=bytes_per_s)


def tenant_attributes(tenant: str) -> TypedSearchAttributes:
    """The search attributes of a tenant's tiering workflows (filter by GeoTenant in the UI)."""
    return TypedSearchAttributes([SearchAttributePair(GEO_TENANT, tenant)])


async def start_demotion(
    client: Client, tenant: str, as_of_ms: int | None, bytes_per_s: int, task_queue: str
) -> WorkflowHandle[DemotionWorkflow, DemotionStatus]:
    """Start `tier-demote-<tenant>` on `task_queue`.

    Raises ValueError for a malformed tenant id; the client's WorkflowAlreadyStartedError when
    that demotion is running; RPCError as it comes.
    """
    return await client.start_workflow(
        DemotionWorkflow.run,
        demotion_input(tenant, as_of_ms, bytes_per_s),
        id=demotion_workflow_id(tenant),
        task_queue=task_queue,
        search_attributes=tenant_attributes(tenant),
    )
