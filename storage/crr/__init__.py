"""Cross-region replication I/O: shipping sealed WAL segments with signed manifests, and reading
them back verified (I5) for replay."""
