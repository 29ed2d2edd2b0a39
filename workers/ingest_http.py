"""Posting signed events to an ingest node over HTTP, for the demo and the drills: the lines are
canonical JSON envelopes already, so the body is assembled around them without re-encoding."""

from __future__ import annotations

from typing import Any

import httpx


async def post_signed_batch(client: httpx.AsyncClient, lines: list[str]) -> list[dict[str, Any]]:
    """POST one batch of signed envelope lines to `/v1/events`; its per-event results. Raises
    httpx.HTTPStatusError on anything but a 2xx answer."""
    body = '{"events":[' + ",".join(lines) + "]}"
    answer = await client.post(
        "/v1/events", content=body, headers={"Content-Type": "application/json"}
    )
    answer.raise_for_status()
    results: list[dict[str, Any]] = answer.json()["results"]
    return results
