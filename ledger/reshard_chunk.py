"""What one chunk of a re-sharding does to the dedup shards, as the migration workflow records it:
the keys a copy moved (`CopyChunk`), how a chunk's keys on the old and new shard compare
(`ChunkDiff`), and what a cleanup or an undo deleted (`DeleteChunk`).

Pure models. A chunk is a run of keys in primary-key order, `(tenant_id, event_id)` compared
code point by code point (the shards' "C" collation); each result names the last key it covered,
which the next chunk starts after, so every mover is resumable from what it returned.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

ChunkKey = tuple[str, str]
"""A dedup key, `(tenant_id, event_id)`."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CopyChunk(_Frozen):
    """One copy chunk: its `keys` (with `copies` dedup_copies rows) are now on the target shard,
    `written` of them inserted by this run (0 when it was done before), `merged` of them held
    there before in another state and brought to the merge of both. The next chunk starts
    after `last_key` (None: nothing was found after the chunk's start); `done` when the source
    shard has no key for the target after it."""

    last_key: ChunkKey | None
    keys: int = Field(ge=0)
    copies: int = Field(ge=0)
    done: bool
    written: int = Field(default=0, ge=0)
    merged: int = Field(default=0, ge=0)


class ChunkSide(_Frozen):
    """One side of a verified chunk: its key rows and copies counted, and order-independent
    fingerprints (sums modulo 2**64 of per-row hashes) of the key rows, the copies and the body
    digests as stored."""

    keys: int = Field(ge=0)
    copies: int = Field(ge=0)
    key_rows: int = Field(ge=0)
    copy_rows: int = Field(ge=0)
    bodies: int = Field(ge=0)


class ChunkDiff(_Frozen):
    """A chunk's key range compared on the source and the target shard, key by key: `behind`
    keys the target holds with a strict subset of the source's records (or not at all: written
    after the copy, which the catch-up copy brings), `ahead` keys with a strict superset (dual
    writes that reached the target), and the mismatches, which writes in flight do not explain:
    `mismatches` lists at most the first N keys (key order), `mismatch_count` is exact."""

    source: ChunkSide
    target: ChunkSide
    mismatches: tuple[ChunkKey, ...]
    mismatch_count: int = Field(ge=0)
    behind: int = Field(default=0, ge=0)
    ahead: int = Field(default=0, ge=0)

    @property
    def clean(self) -> bool:
        """True when the target holds every key of the source as it is, or ahead of it: no
        mismatch and nothing behind."""
        return self.mismatch_count == 0 and self.behind == 0


class DeleteChunk(_Frozen):
    """One cleanup or undo chunk: `keys` deleted with their `copies`; `kept` keys that would have
    been deleted but were not (cleanup: the new shard does not cover the key); resume after
    `last_key`; `done` when nothing is left after it."""

    last_key: ChunkKey | None
    keys: int = Field(ge=0)
    copies: int = Field(ge=0)
    kept: tuple[ChunkKey, ...] = ()
    done: bool
