"""Pre-signed request bodies for the k6 scripts: k6's WebCrypto has no Ed25519 (k6 1.1 answers
NotSupportedError for generateKey and importKey), so events are signed here with the project's
own signing code (ledger.signing, through tests/perf/_stack.sign_parallel) and written as one
JSON file that ingest.js loads into a SharedArray.

Each batch after the first repeats a share of the batch before it (the same signed events, as a
client retrying after a lost answer sends them), so the node's duplicate path is exercised; the
rest of the batch is events never sent before.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.perf._stack import bench_tenant, sign_parallel

TENANT = "bench"


@dataclass(frozen=True)
class Batch:
    """One request body and how many of its events are fresh (the others are repeats)."""

    body: str
    events: int
    fresh: int


def with_repeats(events: Sequence[dict[str, Any]], size: int, repeat_share: float) -> list[Batch]:
    """Batches of `size` events: the first all fresh, each later one `round(size *
    repeat_share)` events of the batch before it (its first ones) followed by the next fresh
    events. Every event of `events` is sent once fresh, in order.

    Requires size >= 1 and 0 <= repeat_share with fewer than `size` repeats (each batch carries
    at least one fresh event, so the batches end)."""
    repeats = round(size * repeat_share)
    if size < 1 or repeat_share < 0 or repeats >= size:
        raise ValueError(
            f"size >= 1 and a repeat_share leaving a fresh event a batch expected: got {size},"
            f" {repeat_share}"
        )
    batches: list[Batch] = []
    previous: list[dict[str, Any]] = []
    cursor = 0
    while cursor < len(events):
        repeated = previous[:repeats]
        fresh = list(events[cursor : cursor + size - len(repeated)])
        cursor += len(fresh)
        batch = [*repeated, *fresh]
        batches.append(Batch(json.dumps({"events": batch}), len(batch), len(fresh)))
        previous = batch
    return batches


def signed_batches(
    folder: Path, signer: ProcessPoolExecutor, count: int, size: int, repeat_share: float
) -> tuple[Path, list[Batch]]:
    """The file of `count` fresh events of tenant TENANT in batches of `size` with
    `repeat_share` repeats, in `folder`, and its batches: signed on every core and written as
    {"tenant_id", "batch_size", "repeat_share", "batches": [{"body", "events", "fresh"}]}, or
    read back when an earlier run wrote it (the key, ids and payloads are fixed, and Ed25519
    signatures deterministic, so the same arguments give the same file)."""
    path = folder / f"events-{count}x{size}-r{repeat_share:g}.json"
    if path.exists():
        return path, [Batch(**batch) for batch in json.loads(path.read_text())["batches"]]
    signed = sign_parallel(signer, "k6-", count)
    batches = with_repeats(signed.events, size, repeat_share)
    document = {
        "tenant_id": TENANT,
        "batch_size": size,
        "repeat_share": repeat_share,
        "batches": [asdict(batch) for batch in batches],
    }
    folder.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: a run stopped half way leaves no truncated file to reuse.
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document))
    partial.rename(path)
    return path, batches


def tenant_public_key() -> bytes:
    """The raw Ed25519 public key the events are signed with, to register in each region."""
    return bench_tenant(TENANT).public_raw
