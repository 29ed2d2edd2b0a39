"""Settings of signed reads (`[reads]`): how far a read's timestamp may be from the node's clock.

What a read signs and why no nonce is kept: ledger/read_signing.py and docs/DECISIONS.md,
"Authenticated reads".
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MAX_SKEW_S = 300


class ReadsConfig(BaseModel):
    """The replay window of signed reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A signed read is accepted while its ts is at most this many seconds behind or ahead of the
    # node's clock: it bounds both clock skew and how long a captured request can be replayed.
    max_skew_s: int = Field(default=DEFAULT_MAX_SKEW_S, ge=1, le=3600)
