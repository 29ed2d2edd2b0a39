"""Announcing deprecated API versions (sdk/README.md, deprecation policy).

Every answer under `/<version>/` of a deprecated version carries `Deprecation: @<unix seconds>`
(RFC 9745 §2), `Sunset: <HTTP-date>` (RFC 8594 §3) and `Link: <url>; rel="deprecation"`
(RFC 9745 §3), so clients can alert long before the version goes away. From the sunset on, the
version answers 410 Gone with the usual error body and the same headers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import MappingProxyType

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.errors import ConfigError

# The policy promises a deprecated version keeps working for at least 12 months.
MIN_NOTICE = timedelta(days=365)

# A version is one path segment; a link goes between `<` and `>` in a header, so it may hold no
# whitespace, quotes or angle brackets (which would let it end the header value early).
_VERSION = re.compile(r"[A-Za-z0-9._-]+")
_LINK = re.compile(r"[!#-;=?-~]+")  # visible ASCII without '"', '<' and '>'


@dataclass(frozen=True)
class Deprecation:
    """When an API version was (or will be) deprecated, when it stops answering, and where its
    migration notes are.

    Requires timezone-aware datetimes, `sunset_at` at least `MIN_NOTICE` after `deprecated_at`,
    and `link` a URL of visible ASCII without `"`, `<` or `>`; raises ConfigError otherwise.
    """

    deprecated_at: datetime
    sunset_at: datetime
    link: str

    def __post_init__(self) -> None:
        for name, value in (("deprecated_at", self.deprecated_at), ("sunset_at", self.sunset_at)):
            if value.utcoffset() is None:
                raise ConfigError(f"{name}: expected a timezone-aware datetime, got {value!r}")
        if self.sunset_at - self.deprecated_at < MIN_NOTICE:
            raise ConfigError(
                f"sunset_at: expected at least {MIN_NOTICE.days} days after deprecated_at "
                f"({self.deprecated_at.isoformat()}), got {self.sunset_at.isoformat()}"
            )
        if not _LINK.fullmatch(self.link):
            raise ConfigError(
                f'link: expected a URL of visible ASCII without ", < or >, got {self.link!r}'
            )

    def headers(self) -> dict[str, str]:
        """The three announcement headers (RFC 9745 §2-3, RFC 8594 §3)."""
        return {
            # An RFC 9651 Date: '@' and whole seconds since the epoch.
            "Deprecation": f"@{int(self.deprecated_at.timestamp())}",
            # IMF-fixdate, the preferred HTTP-date form (RFC 9110 §5.6.7).
            "Sunset": format_datetime(self.sunset_at.astimezone(UTC), usegmt=True),
            "Link": f'<{self.link}>; rel="deprecation"',
        }

    def is_sunset(self, now: datetime) -> bool:
        return now >= self.sunset_at


# v1 is the current version: nothing is deprecated yet.
DEPRECATIONS: Mapping[str, Deprecation] = MappingProxyType({})


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DeprecationMiddleware:
    """ASGI middleware: adds the announcement headers to every answer under `/<version>/` of a
    deprecated version, and answers 410 Gone (`{"error": {"code": "sunset", ...}}`) from its
    sunset on. Paths of other versions, `/healthz` and `/metrics` pass through untouched.

    Requires every key of `deprecations` to be one path segment (e.g. "v1"); raises ConfigError
    otherwise.
    """

    def __init__(
        self,
        app: ASGIApp,
        deprecations: Mapping[str, Deprecation],
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        for version in deprecations:
            if not _VERSION.fullmatch(version):
                raise ConfigError(
                    f"deprecations: expected API versions of [A-Za-z0-9._-]+ such as 'v1', "
                    f"got {version!r}"
                )
        self.app = app
        self._deprecations = dict(deprecations)
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._deprecation_of(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        version, deprecation = found
        headers = deprecation.headers()
        if deprecation.is_sunset(self._clock()):
            gone = _error(410, "sunset", _sunset_message(version, deprecation), headers)
            await gone(scope, receive, send)
            return
        extra = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        ]

        async def send_announced(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_announced)

    def _deprecation_of(self, scope: Scope) -> tuple[str, Deprecation] | None:
        """The requested version and its deprecation, if it is a deprecated one."""
        if scope["type"] != "http" or not self._deprecations:
            return None
        path: str = scope["path"]
        # "/v1/events" -> ["", "v1", "events"]; "/v1" -> ["", "v1"].
        segments = path.split("/", 2)
        version = segments[1] if len(segments) > 1 else ""
        deprecation = self._deprecations.get(version)
        return None if deprecation is None else (version, deprecation)


def _sunset_message(version: str, deprecation: Deprecation) -> str:
    return (
        f"expected a supported API version, got {version}, which was sunset on "
        f"{deprecation.sunset_at.astimezone(UTC).isoformat()}; migration notes: {deprecation.link}"
    )


def _error(status: int, code: str, message: str, headers: Mapping[str, str]) -> JSONResponse:
    # The same error body as every other refusal of the ingest API.
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )
