"""Self-describing records for the WAL crash tests.

A record is `b"<run>:<task>:<counter>|"` followed by SHAKE-128 output of that header, of a length
derived from the header too. Anyone holding a record can rebuild it from its own header and
compare: a partial, garbled or mixed-up record cannot pass, and an acknowledged record can be
rebuilt from the `(run, task, counter)` its ACK line names.
"""

from __future__ import annotations

import hashlib

# Mostly small records (many per 4 KiB segment), now and then one larger than a whole segment.
_SMALL_MAX = 1500
_LARGE_MIN, _LARGE_SPAN = 5000, 4000


def _body_length(header: bytes) -> int:
    selector = int.from_bytes(hashlib.sha256(header).digest()[:4], "big")
    if selector % 64 == 0:
        return _LARGE_MIN + selector % _LARGE_SPAN
    return selector % _SMALL_MAX


def make_record(run: int, task: int, counter: int) -> bytes:
    header = f"{run}:{task}:{counter}|".encode("ascii")
    return header + hashlib.shake_128(header).digest(_body_length(header))


def record_identity(record: bytes) -> tuple[int, int, int] | None:
    """`(run, task, counter)` of an intact record, None for anything else."""
    header, separator, _ = record.partition(b"|")
    if not separator:
        return None
    try:
        run, task, counter = (int(part) for part in header.split(b":"))
    except ValueError:
        return None
    if make_record(run, task, counter) != record:
        return None
    return run, task, counter
