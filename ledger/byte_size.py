"""Byte counts as people read them, in binary units (KiB, MiB, GiB)."""

from __future__ import annotations


def human_bytes(count: int) -> str:
    """`count` bytes as "512 B", "1.5 KiB", ... up to GiB."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"
