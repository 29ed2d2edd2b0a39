"""The segment limits tests open a `WalWriter` with: the settings model's defaults, as a node
would run them (the writer itself has no defaults)."""

from __future__ import annotations

from typing import Final

from ledger.config import WalConfig

_WAL: Final = WalConfig()
SEGMENT_BYTES: Final = _WAL.max_segment_bytes
SEGMENT_AGE_S: Final = _WAL.max_segment_age_s
SEGMENT_LIMITS: Final = {"max_segment_bytes": SEGMENT_BYTES, "max_segment_age_s": SEGMENT_AGE_S}
