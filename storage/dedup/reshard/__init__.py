"""The data movers of re-sharding a region's dedup ring, one chunk of keys at a time: copy the
keys the new ring places on another shard, merging them with what it holds (copy.py,
merging.py), compare a chunk on both shards (verify.py, compare.py, mismatches.py), delete moved
keys from their old shard once the new one covers them (cleanup.py), and remove a copy again on
rollback (undo.py); and a new shard's applied positions, set once the catch-up copy is done and
cleared on rollback (positions.py). The migration workflow calls them as activities; each is
idempotent and the chunk movers resume after the key they returned."""

from storage.dedup.reshard.cleanup import cleanup_chunk
from storage.dedup.reshard.copy import copy_chunk
from storage.dedup.reshard.mismatches import write_mismatches
from storage.dedup.reshard.positions import clear_positions, seal_positions
from storage.dedup.reshard.undo import undo_copy_chunk
from storage.dedup.reshard.verify import recheck_keys, verify_chunk

__all__ = [
    "cleanup_chunk",
    "clear_positions",
    "copy_chunk",
    "recheck_keys",
    "seal_positions",
    "undo_copy_chunk",
    "verify_chunk",
    "write_mismatches",
]
