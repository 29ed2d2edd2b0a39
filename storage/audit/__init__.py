"""The region's audit log: leaves, checkpoints, witnesses (docs/audit.md)."""
