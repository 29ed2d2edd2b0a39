"""Module-level work for CpuPool tests: worker processes import functions by name."""

from __future__ import annotations

import os


def square_with_pid(chunk: list[int]) -> list[tuple[int, int]]:
    return [(value * value, os.getpid()) for value in chunk]


def fail_at(bad: int, chunk: list[int]) -> list[int]:
    for value in chunk:
        if value >= bad:
            raise ValueError(f"item {value} is bad")
    return chunk
