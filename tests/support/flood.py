"""A flood of POST /v1/events from a process of its own, so the flooding client's CPU is not the
measured client's: `python -m tests.support.flood URL BODIES STOP_FILE CONCURRENCY`.

BODIES is a JSON file holding a list of request bodies (strings). Each of CONCURRENCY senders
posts its share of them in turn, round and round, without waiting between answers (a flood does
not honour Retry-After), until STOP_FILE exists (or a minute has passed). STOP_FILE.started is
created at the first answer, so a test knows the flood is on. Prints one JSON object: for each
body, the answers it got as [status, Retry-After or null, accepted events].
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx

# A test that never writes its stop file must not leave a flood running behind it.
MAX_SECONDS = 60.0
POLL_S = 0.05


async def flood(url: str, bodies: list[str], stop: Path, concurrency: int) -> dict[str, Any]:
    answers: list[list[list[Any]]] = [[] for _ in bodies]
    stopped, started = asyncio.Event(), asyncio.Event()

    async def watch() -> None:
        for _ in range(int(MAX_SECONDS / POLL_S)):
            if await asyncio.to_thread(stop.exists):
                break
            await asyncio.sleep(POLL_S)
        stopped.set()

    async def sender(http: httpx.AsyncClient, mine: list[int]) -> None:
        while True:
            for index in mine:
                if stopped.is_set():
                    return
                answer = await http.post("/v1/events", content=bodies[index])
                if not started.is_set():
                    started.set()
                    await asyncio.to_thread(stop.with_suffix(".started").touch)
                accepted = 0
                if answer.status_code == 200:
                    results = answer.json()["results"]
                    accepted = sum(1 for r in results if r["status"] == "accepted")
                answers[index].append(
                    [answer.status_code, answer.headers.get("Retry-After"), accepted]
                )

    limits = httpx.Limits(max_connections=concurrency)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, limits=limits, headers=headers, timeout=30) as http:
        shares = [list(range(i, len(bodies), concurrency)) for i in range(concurrency)]
        watcher = asyncio.create_task(watch())
        await asyncio.gather(*(sender(http, share) for share in shares if share))
        await watcher
    return {"answers": answers}


def main() -> None:
    url, bodies_path, stop_file, concurrency = sys.argv[1:5]
    bodies = json.loads(Path(bodies_path).read_text())
    print(json.dumps(asyncio.run(flood(url, bodies, Path(stop_file), int(concurrency)))))


if __name__ == "__main__":
    main()
