"""Durations typed on the command line (`--every 5m`, `1h30m`) for the commands that schedule."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNIT_SECONDS = (86_400, 3_600, 60, 1)


def parse_duration(text: str) -> timedelta:
    """`30s`, `5m`, `1h`, `1d` or combinations in that order (`1h30m`), at least one second.

    Raises ValueError naming what was expected and what was got.
    """
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"expected a duration like 30s, 5m, 1h or 1h30m, got {text!r}")
    seconds = sum(
        int(value) * unit
        for value, unit in zip(match.groups(), _UNIT_SECONDS, strict=True)
        if value
    )
    if seconds < 1:
        raise ValueError(f"expected a duration of at least 1s, got {text!r}")
    return timedelta(seconds=seconds)


def format_duration(seconds: float) -> str:
    """`seconds`, rounded up to the second, as parse_duration reads it (`1h30m`, `45s`, `0s`)."""
    left = int(-(-seconds // 1))
    parts = []
    for unit, suffix in zip(_UNIT_SECONDS, "dhms", strict=True):
        count, left = divmod(left, unit)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts) or "0s"
