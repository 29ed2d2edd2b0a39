"""The ingest API (FastAPI): routes parse input, call the node, and map its answer."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from ipaddress import ip_address
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.ingest import metrics
from api.ingest.deprecation import DEPRECATIONS, Deprecation, DeprecationMiddleware
from api.ingest.errors import (
    BatchRejected,
    EventRestoring,
    EventUnreadable,
    NodeUnavailable,
    ReadUnauthorized,
)
from api.ingest.limits_middleware import LoadLimitMiddleware
from api.ingest.node import IngestNode, NodeFactory
from api.ingest.read_auth import SignedReader, unauthorized

API_VERSION = "v1"


def current_node(request: Request) -> IngestNode:
    node: IngestNode = request.app.state.node
    return node


Node = Annotated[IngestNode, Depends(current_node)]


def create_app(
    open_node: NodeFactory, deprecations: Mapping[str, Deprecation] | None = None
) -> FastAPI:
    """An app whose node is opened (WAL recovered, dedup caught up) before the first request.
    `deprecations` (default: `api.ingest.deprecation.DEPRECATIONS`) names the deprecated API
    versions, announced on each of their answers and refused with 410 after their sunset."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        node = await open_node()
        app.state.node = node
        try:
            yield
        finally:
            await node.close()

    app = FastAPI(title="geoledger ingest", version="1", lifespan=lifespan)
    app.add_middleware(LoadLimitMiddleware)
    app.add_middleware(
        DeprecationMiddleware,
        deprecations=DEPRECATIONS if deprecations is None else deprecations,
    )

    @app.exception_handler(BatchRejected)
    async def batch_rejected(request: Request, exc: BatchRejected) -> JSONResponse:
        metrics.INGEST_BATCHES_REFUSED.labels(exc.code).inc()
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(NodeUnavailable)
    async def unavailable(request: Request, exc: NodeUnavailable) -> JSONResponse:
        metrics.INGEST_BATCHES_REFUSED.labels("unavailable").inc()
        return _error(503, "unavailable", str(exc), headers={"Retry-After": "1"})

    @app.exception_handler(EventUnreadable)
    async def unreadable(request: Request, exc: EventUnreadable) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        return _error(exc.status, exc.code, exc.message, headers=headers)

    @app.exception_handler(ReadUnauthorized)
    async def read_unauthorized(request: Request, exc: ReadUnauthorized) -> JSONResponse:
        return unauthorized(exc)

    @app.exception_handler(EventRestoring)
    async def restoring(request: Request, exc: EventRestoring) -> JSONResponse:
        return JSONResponse(
            {"status": "restoring", "retry_after_s": exc.retry_after_s, "message": exc.message},
            status_code=202,
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.post(f"/{API_VERSION}/events")
    async def post_events(request: Request, node: Node) -> dict[str, Any]:
        received = time.perf_counter()
        body = await request.body()
        results = await node.ingest(body, request.headers)
        metrics.ACK_LATENCY.observe(time.perf_counter() - received)
        return {"results": [result.as_dict() for result in results]}

    @app.get(f"/{API_VERSION}/events/{{tenant_id}}/{{event_id}}")
    async def get_event(
        tenant_id: str, event_id: str, node: Node, reader: SignedReader
    ) -> Response:
        # Charged to the tenant whose key signed it, once the signature verified: an unsigned
        # flood cannot spend a tenant's read budget.
        node.limits.tenants.admit_read(reader.tenant_id)
        # Another tenant's key is answered as an unknown event: no existence leak.
        stored = await node.get(tenant_id, event_id) if reader.may_read(tenant_id) else None
        if stored is None:
            return _error(404, "not_found", f"no event {event_id!r} for tenant {tenant_id!r}")
        return JSONResponse(stored)

    @app.get("/healthz")
    async def healthz(node: Node, probe: Literal["ready", "live"] = "ready") -> Response:
        """503 when the node takes no writes (readiness: a draining node leaves the Service);
        `?probe=live` is 503 only when its WAL failed, so a drain is never killed as dead."""
        health = node.health()
        healthy = health["ok"] if probe == "ready" else health["live"]
        return JSONResponse(health, status_code=200 if healthy else 503)

    @app.post("/drain")
    async def drain(request: Request, node: Node) -> Response:
        """Stop taking writes and seal the open segment (`geoledger ingest retire`, run beside
        the node). Loopback callers only: the route needs no credential, and a drained node
        takes no writes until it restarts."""
        if not _from_loopback(request):
            return _error(403, "forbidden", "drain is accepted from the node's own host only")
        last_seq = await node.drain()
        return JSONResponse({"stream": node.stream, "last_seq": last_seq, "draining": True})

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )
