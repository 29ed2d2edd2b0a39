"""The ops API (FastAPI): read-only, every route behind the operator token; routes parse input,
call the `OpsService` and return its answer; one handler maps `OpsError`s to HTTP answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse

from api.ops.auth import OperatorToken, require_operator
from api.ops.errors import OperatorUnauthorized, OpsError
from api.ops.models import (
    DistributionAnswer,
    ErrorBody,
    KeyAnswer,
    MigrationInfo,
    MigrationsAnswer,
    SampleAnswer,
    ShardsAnswer,
)
from api.ops.service import OpsService
from ledger.envelope import TENANT_ID_PATTERN, TOKEN_PATTERN

PREFIX = "/v1/ops"
MAX_SAMPLE = 1000
DEFAULT_SAMPLE = 20


def current_service(request: Request) -> OpsService:
    service: OpsService = request.app.state.service
    return service


Service = Annotated[OpsService, Depends(current_service)]
Tenant = Annotated[str, Path(pattern=f"^{TENANT_ID_PATTERN}$", description="Tenant id.")]
EventId = Annotated[str, Path(pattern=f"^{TOKEN_PATTERN}$", description="Event id.")]
MigrationId = Annotated[str, Path(min_length=1, max_length=128, description="Migration id.")]
TenantQuery = Annotated[str, Query(pattern=f"^{TENANT_ID_PATTERN}$", description="Tenant id.")]
SampleSize = Annotated[
    int, Query(ge=1, le=MAX_SAMPLE, description=f"Keys per region, at most {MAX_SAMPLE}.")
]

_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No bearer token, or not the operator's."},
    503: {"model": ErrorBody, "description": "No operator token is configured."},
}


def create_app(service: OpsService, token: OperatorToken) -> FastAPI:
    """The ops app answering from `service` (closed when the app shuts down) to requests that
    carry `token`. No interactive docs or schema route: every route needs the token, and the
    OpenAPI document is committed (docs/ops-openapi.json)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(
        title="geoledger ops",
        version="1",
        description="Read-only view of every region's dedup shards, for operators.",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.state.operator_token = token

    @app.exception_handler(OpsError)
    async def ops_error(request: Request, exc: OpsError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, OperatorUnauthorized) else None
        body = ErrorBody.model_validate({"error": {"code": exc.code, "message": exc.message}})
        return JSONResponse(body.model_dump(), status_code=exc.status, headers=headers)

    app.include_router(_routes())
    return app


def _routes() -> APIRouter:
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(require_operator)], responses=_REFUSALS)

    @router.get("/shards")
    async def get_shards(service: Service) -> ShardsAnswer:
        """Per region and configured shard: keys, bytes, reachable or the error, applied
        positions per stream and replay lag."""
        return await service.shards()

    @router.get("/distribution")
    async def get_distribution(service: Service) -> DistributionAnswer:
        """Per region: keys per shard of the current ring and each shard's share."""
        return await service.distribution()

    @router.get("/keys/sample")
    async def get_key_sample(
        service: Service, tenant: TenantQuery, n: SampleSize = DEFAULT_SAMPLE
    ) -> SampleAnswer:
        """Up to n random keys of the tenant per region, each with its shard."""
        return await service.sample_keys(tenant, n)

    @router.get("/keys/{tenant}/{event_id}")
    async def get_key(service: Service, tenant: Tenant, event_id: EventId) -> KeyAnswer:
        """Per region: the key's shard under each ring of the live route, whether it holds the
        key, and the tier of its body."""
        return await service.locate_key(tenant, event_id)

    @router.get("/migrations")
    async def get_migrations(service: Service) -> MigrationsAnswer:
        """Every re-sharding run the regions' routing tables record, newest first."""
        return await service.migrations()

    @router.get(
        "/migrations/{migration_id}",
        responses={404: {"model": ErrorBody, "description": "No region knows this id."}},
    )
    async def get_migration(service: Service, migration_id: MigrationId) -> MigrationInfo:
        """One re-sharding run."""
        return await service.migration(migration_id)

    return router
