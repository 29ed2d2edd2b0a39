"""Tiered storage of event bodies (ARCHITECTURE §3 "Tiering"): the I/O pieces that demotion,
the tiered reader and retention build on.

A record's key row stays in the dedup store; only its body moves. Warm and cold bodies share one
encoding, `codec` (a one-byte header, then the raw body or a zstd frame, optionally compressed
with a tenant's dictionary); `dictionaries` trains those dictionaries and keeps them, addressed by
content, in the region's object store.
"""
