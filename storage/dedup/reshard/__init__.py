"""The data movers of re-sharding a region's dedup ring, one chunk of keys at a time: copy the
keys the new ring places on another shard (copy.py), compare a chunk on both shards (verify.py,
mismatches.py), delete moved keys from their old shard once the new one holds them (cleanup.py),
and remove a copy again on rollback (undo.py). The migration workflow calls them as activities;
each is idempotent and resumes after the key it returned."""

from storage.dedup.reshard.cleanup import cleanup_chunk
from storage.dedup.reshard.copy import copy_chunk
from storage.dedup.reshard.mismatches import write_mismatches
from storage.dedup.reshard.undo import undo_copy_chunk
from storage.dedup.reshard.verify import recheck_keys, verify_chunk

__all__ = [
    "cleanup_chunk",
    "copy_chunk",
    "recheck_keys",
    "undo_copy_chunk",
    "verify_chunk",
    "write_mismatches",
]
