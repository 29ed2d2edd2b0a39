"""Which writer processes of a region have acknowledged a routing epoch, as the re-sharding
workflow sees it while it waits to move on (storage/dedup/route_epochs.route_acks reads them).

Pure models: they cross into Temporal payloads.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NodeAck(BaseModel):
    """One live writer: its name (`ingest/<region>/<node>`, `worker/<host>/<pid>`), its role, the
    epoch it has switched its writes to, and how long ago it last read the route."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: str
    role: str
    epoch: int = Field(ge=1)
    seen_s_ago: float = Field(ge=0)


class RouteAcks(BaseModel):
    """The live writers of a region against `epoch`: those that have acknowledged it (or a later
    one) and those still writing with an older one. Writers not seen recently are neither: their
    lease has run out, so they no longer write."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epoch: int = Field(ge=1)
    acked: tuple[NodeAck, ...]
    pending: tuple[NodeAck, ...]

    @property
    def complete(self) -> bool:
        """True when no live writer still writes with an older epoch."""
        return not self.pending
