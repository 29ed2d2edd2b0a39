"""Answering 429 with Retry-After for the node's load limits (api/ingest/limits.py).

The in-flight budget is checked as a request arrives, before its body is read. A read is charged
to its tenant's read bucket by the read route once its signature verified (api/ingest/app.py), a
batch in the node before it is verified (only then are its tenants and events known); the
Throttled either raises comes back through here and is answered the same way. `/healthz` and
`/metrics` are never limited: a node shedding load must still say whether it is alive and how
loaded it is.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.ingest.errors import Throttled
from api.ingest.limits import LoadLimits

UNLIMITED_PATHS = frozenset({"/healthz", "/metrics"})


class LoadLimitMiddleware:
    """ASGI middleware enforcing the `LoadLimits` of the app's node (`app.state.node.limits`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        limits: LoadLimits = scope["app"].state.node.limits
        try:
            limits.in_flight.enter()
        except Throttled as refused:
            await _answer(refused, scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Throttled as refused:
            await _answer(refused, scope, receive, send)
        finally:
            limits.in_flight.leave()


async def _answer(refused: Throttled, scope: Scope, receive: Receive, send: Send) -> None:
    answer = JSONResponse(
        {"error": {"code": refused.code, "message": refused.message}},
        status_code=429,
        headers={"Retry-After": str(refused.retry_after_s)},
    )
    await answer(scope, receive, send)
