"""Micro benchmark of strict decode + validation, per event of a request body and per WAL record.

    .venv/bin/python -m tests.perf.bench_decode [--events 1000] [--repeat 7]

Measured in one run, on the same bytes, each the best of --repeat passes (CPU time):
  bare json.loads       the floor any JSON parse pays (no validation at all);
  oracle                the parsers before msgspec (pydantic validators; tests/fuzz/oracle);
  json.loads + checks   the product's general path: json.loads, then per-field checks by hand;
  msgspec (product)     the product's path: typed msgspec Structs, then the remaining checks.
Payloads come in two kinds, with and without floats: a float sends the canonical (RFC 8785) form
of the payload to the reference implementation, the largest cost left per event.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script (`make bench`): the repository root must be importable for `tests.fuzz`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from api.ingest import batch as product_batch
from ledger import record as product_record
from ledger.envelope import EventEnvelope
from ledger.keys import private_key_from_seed
from ledger.record import WalRecord, decode_record, encode_record
from ledger.signing import sign_event
from tests.fuzz.oracle import batch as oracle_batch
from tests.fuzz.oracle import record as oracle_record

KEY = private_key_from_seed(bytes(range(32)))
ACCEPTED_AT_MS = 1_700_000_000_000


def _payload(index: int, floats: bool) -> dict[str, Any]:
    price: float | int = 12.5 if floats else 1250
    return {
        "order": index,
        "items": [{"sku": "A-1", "qty": 2, "price": price}],
        "note": "hello world",
        "ok": True,
    }


def _events(count: int, floats: bool) -> list[Any]:
    return [
        sign_event(
            KEY,
            EventEnvelope(
                tenant_id="acme",
                event_id=f"evt-{index}",
                key_id="ed25519:0011223344556677",
                occurred_at="2025-01-31T23:59:59.123Z",
                type="order.created",
                payload=_payload(index, floats),
            ),
        )
        for index in range(count)
    ]


def _best_us(run: Callable[[], object], items: int, repeat: int) -> float:
    """Best-of-`repeat` CPU time of `run` (this process's, so that other processes on a busy
    machine count less), in microseconds per item."""
    runs = timeit.repeat(run, number=1, repeat=repeat, timer=time.process_time)
    return min(runs) / items * 1e6


def _row(name: str, cost: float, oracle: float, bare: float) -> str:
    return (
        f"  {name:<22} {cost:7.2f} us  = {cost / oracle:5.2f}x oracle, "
        f"{cost / bare:5.1f}x bare json.loads"
    )


def bench_bodies(events: list[Any], repeat: int) -> None:
    body = json.dumps({"events": [event.to_dict() for event in events]}).encode()
    count = len(events)
    assert len(product_batch.parse_batch(body)) == count
    bare = _best_us(lambda: json.loads(body), count, repeat)
    oracle = _best_us(lambda: oracle_batch.parse_batch(body), count, repeat)
    general = _best_us(lambda: product_batch._parse_general(body), count, repeat)
    product = _best_us(lambda: product_batch.parse_batch(body), count, repeat)
    print(f"request body, {count} events, {len(body) // count} bytes per event:")
    print(_row("bare json.loads", bare, oracle, bare))
    print(_row("oracle (pydantic)", oracle, oracle, bare))
    print(_row("json.loads + checks", general, oracle, bare))
    print(_row("msgspec (product)", product, oracle, bare))


def bench_records(events: list[Any], repeat: int) -> None:
    records = [
        encode_record(
            WalRecord(
                hlc=2**57 + i, region="us", node="n1", accepted_at_ms=ACCEPTED_AT_MS, event=event
            )
        )
        for i, event in enumerate(events)
    ]
    count = len(records)

    def each(decode: Callable[[bytes], object]) -> Callable[[], object]:
        return lambda: [decode(record) for record in records]

    bare = _best_us(each(json.loads), count, repeat)
    oracle = _best_us(each(oracle_record.decode_record), count, repeat)
    general = _best_us(each(product_record._decode_diagnosed), count, repeat)
    product = _best_us(each(decode_record), count, repeat)
    print(f"WAL record, {count} records, {sum(map(len, records)) // count} bytes per record:")
    print(_row("bare json.loads", bare, oracle, bare))
    print(_row("oracle (pydantic)", oracle, oracle, bare))
    print(_row("json.loads + checks", general, oracle, bare))
    print(_row("msgspec (product)", product, oracle, bare))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    for floats in (False, True):
        print(f"== payloads {'with' if floats else 'without'} floats")
        events = _events(args.events, floats)
        bench_bodies(events, args.repeat)
        bench_records(events, args.repeat)


if __name__ == "__main__":
    main()
