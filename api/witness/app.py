"""The witness API (FastAPI): `POST /add-checkpoint` and `GET /<origin hash>/checkpoint` (C2SP
tlog-witness); routes call the service and map its answer; one handler turns refusals into
statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from api.witness.errors import CheckpointConflict, WitnessRefusal
from api.witness.service import WitnessService
from ledger.witness_protocol import ADD_CHECKPOINT_PATH, TLOG_SIZE_CONTENT_TYPE, format_size

ServiceFactory = Callable[[], Awaitable[tuple[WitnessService, Callable[[], Awaitable[None]]]]]
"""Opens the service; returns it and what closes it."""


def current_service(request: Request) -> WitnessService:
    service: WitnessService = request.app.state.service
    return service


Service = Annotated[WitnessService, Depends(current_service)]


def create_app(open_service: ServiceFactory) -> FastAPI:
    """An app whose service (keys read, database pool open) is ready before the first request."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service, close = await open_service()
        app.state.service = service
        try:
            yield
        finally:
            await close()

    app = FastAPI(title="geoledger witness", version="1", lifespan=lifespan)

    @app.exception_handler(WitnessRefusal)
    async def refused(request: Request, exc: WitnessRefusal) -> Response:
        if isinstance(exc, CheckpointConflict):
            return PlainTextResponse(
                format_size(exc.latest_size), 409, media_type=TLOG_SIZE_CONTENT_TYPE
            )
        return PlainTextResponse(f"{exc}\n", exc.status)

    @app.post(ADD_CHECKPOINT_PATH)
    async def add_checkpoint(request: Request, service: Service) -> Response:
        line = await service.add_checkpoint(await request.body())
        return PlainTextResponse(line, 200)

    @app.get("/{origin_hash}/checkpoint")
    async def checkpoint(origin_hash: str, service: Service) -> Response:
        return PlainTextResponse(await service.latest_checkpoint(origin_hash), 200)

    return app
