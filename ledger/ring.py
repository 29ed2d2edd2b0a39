"""Dedup shard routing: which of N shards holds a (tenant, event_id) key.

Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014), arXiv:1406.2294.
Growing from N to N+1 shards moves only the keys that land on the new shard, about 1/(N+1) of
them, and needs no ring table: the routing table only has to record N.
"""

from __future__ import annotations

import hashlib

_MASK64 = (1 << 64) - 1
_LCG_MULTIPLIER = 2862933555777941757
MAX_BUCKETS = (1 << 31) - 1
"""The reference takes `int32_t num_buckets`; larger rings are outside its tested domain."""


def jump_hash(key: int, buckets: int) -> int:
    """The bucket in [0, buckets) for `key`: the C++ `JumpConsistentHash` of the paper, Figure 1,
    with its 64-bit unsigned wraparound and double-precision division reproduced exactly.

    Requires 0 <= key < 2**64 and 1 <= buckets <= MAX_BUCKETS; raises ValueError otherwise.
    """
    if not 0 <= key <= _MASK64:
        raise ValueError(f"expected 0 <= key < 2**64, got {key}")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ValueError(f"expected 1 <= buckets <= {MAX_BUCKETS}, got {buckets}")
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * _LCG_MULTIPLIER + 1) & _MASK64
        # Python floats are IEEE 754 doubles, so this is the reference's arithmetic bit for bit.
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def routing_key(tenant_id: str, event_id: str) -> int:
    """The first 8 bytes, big-endian, of SHA-256 (FIPS 180-4) of tenant_id + "\\x00" + event_id in
    UTF-8. The NUL cannot occur in either id, so distinct pairs never share an input."""
    digest = hashlib.sha256(f"{tenant_id}\x00{event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def shard_of(tenant_id: str, event_id: str, n: int) -> int:
    """The shard in [0, n) that owns the dedup key (tenant_id, event_id) on an n-shard ring."""
    return jump_hash(routing_key(tenant_id, event_id), n)
