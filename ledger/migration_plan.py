"""A re-sharding plan of one region's dedup ring (`dedup-migrate plan`), as stored in the control
database's `dedup_migration_plans` and read back by the migration workflow.

Pure: the models, the plan id, and what jump hash allows to move. Growing a ring from n to m
shards moves a key only to one of the new shards n..m-1, never between old ones; shrinking it
moves only the keys of the shards that go away (m..n-1), each to a shard that stays. So the
sources and targets of a plan are known from the two sizes alone, and measuring only counts.
"""

from __future__ import annotations

import math
import re
import secrets
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PlanState(StrEnum):
    """Where a stored plan is: `running` at most once per region (a partial unique index)."""

    PLANNED = "planned"
    RUNNING = "running"
    DONE = "done"
    ROLLED_BACK = "rolled_back"
    ABANDONED = "abandoned"


class CheckStatus(StrEnum):
    """The outcome of one precondition. `unknown` does not stop a plan: it says what could not be
    found out (such as a remote database server's free disk) so an operator can look."""

    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShardMove(_Frozen):
    """What moves from one shard of the current ring to one shard of the target ring: the keys
    (winner rows), their body bytes as stored (hot body, warm blob or cold blob length) and the
    other records kept for them (dedup_copies rows), which move with their key."""

    source: int = Field(ge=0)
    target: int = Field(ge=0)
    keys: int = Field(ge=0)
    bytes: int = Field(ge=0)
    copies: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _moves_somewhere(self) -> ShardMove:
        if self.source == self.target:
            raise ValueError(f"a move goes to another shard, got {self.source} -> {self.target}")
        return self


class PlanCheck(_Frozen):
    """One precondition: its name (`target_dsns`, `reachable`, `schema`, `empty`, `free_space`,
    `no_running_migration`, `ring_size`), the shard it is about (None for the region), how it
    came out and why."""

    name: str = Field(min_length=1)
    shard: int | None = Field(default=None, ge=0)
    status: CheckStatus
    reason: str

    @property
    def failed(self) -> bool:
        return self.status is CheckStatus.FAILED


class MigrationPlan(_Frozen):
    """A measured plan to re-shard `region` from `from_ring` to `to_ring` shards."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*-[0-9]+to[0-9]+-[0-9a-f]{8}$")
    region: str = Field(min_length=1)
    from_ring: int = Field(ge=1)
    to_ring: int = Field(ge=1)
    created_at: datetime
    routing_epoch: int = Field(ge=1)
    moves: tuple[ShardMove, ...]
    checks: tuple[PlanCheck, ...] = ()
    rate_keys_per_s: float = Field(gt=0)
    estimated_copy_s: float = Field(ge=0)
    state: PlanState = PlanState.PLANNED
    workflow_id: str | None = None

    @model_validator(mode="after")
    def _moves_fit_the_rings(self) -> MigrationPlan:
        if self.from_ring == self.to_ring:
            raise ValueError(f"from_ring and to_ring must differ, both are {self.to_ring}")
        allowed_sources, allowed_targets = moving_shards(self.from_ring, self.to_ring)
        for move in self.moves:
            if move.source not in allowed_sources or move.target not in allowed_targets:
                raise ValueError(
                    f"jump hash moves keys of a {self.from_ring} -> {self.to_ring} ring only "
                    f"from shards {list(allowed_sources)} to {list(allowed_targets)}, "
                    f"got {move.source} -> {move.target}"
                )
        return self

    @property
    def total_keys(self) -> int:
        return sum(move.keys for move in self.moves)

    @property
    def total_bytes(self) -> int:
        return sum(move.bytes for move in self.moves)

    @property
    def target_shards(self) -> range:
        """The shards that receive keys (whether or not one moves to each)."""
        return moving_shards(self.from_ring, self.to_ring)[1]

    @property
    def source_shards(self) -> range:
        """The shards that give keys away."""
        return moving_shards(self.from_ring, self.to_ring)[0]


def moving_shards(from_ring: int, to_ring: int) -> tuple[range, range]:
    """(sources, targets) of jump hash between rings of these sizes: growing, every old shard
    gives to the new ones; shrinking, the removed shards give to those that stay."""
    if to_ring > from_ring:
        return range(from_ring), range(from_ring, to_ring)
    return range(to_ring, from_ring), range(to_ring)


def new_plan_id(region: str, from_ring: int, to_ring: int) -> str:
    """`<region>-<from>to<to>-<8 random hex>`, e.g. `us-2to4-1f3a9c0d`."""
    return f"{region}-{from_ring}to{to_ring}-{secrets.token_hex(4)}"


def estimated_copy_s(keys: int, rate_keys_per_s: float) -> float:
    """Seconds to copy `keys` keys at the throttle, rounded up to the second."""
    return float(math.ceil(keys / rate_keys_per_s))


class PlanReport(_Frozen):
    """What `dedup-migrate plan` measured and checked, stored or not: a plan is stored (as a
    MigrationPlan with the same fields) only when no check failed."""

    region: str
    from_ring: int = Field(ge=1)
    to_ring: int = Field(ge=1)
    routing_epoch: int = Field(ge=1)
    moves: tuple[ShardMove, ...]
    checks: tuple[PlanCheck, ...]
    rate_keys_per_s: float = Field(gt=0)
    estimated_copy_s: float = Field(ge=0)

    @property
    def failed(self) -> tuple[PlanCheck, ...]:
        """The checks that failed: any one of them stops the plan."""
        return tuple(check for check in self.checks if check.failed)

    @property
    def unreachable(self) -> bool:
        """True when a failure is a database that could not be reached."""
        return any(check.name == "reachable" for check in self.failed)

    def to_plan(self, plan_id: str, created_at: datetime) -> MigrationPlan:
        """The plan to store; requires that no check failed."""
        assert not self.failed, self.failed
        return MigrationPlan(
            id=plan_id,
            created_at=created_at,
            **self.model_dump(exclude={"moves", "checks"}),
            moves=self.moves,
            checks=self.checks,
        )


_PLAN_ID = re.compile(r"^(?P<region>[a-z][a-z0-9-]*)-[0-9]+to[0-9]+-[0-9a-f]{8}$")


def region_of_plan_id(plan_id: str) -> str:
    """The region a plan id names (`us-2to4-1f3a9c0d` -> `us`). Raises ValueError naming the
    expected shape for anything else."""
    match = _PLAN_ID.match(plan_id)
    if match is None:
        raise ValueError(
            f"plan id: expected <region>-<from>to<to>-<8 hex> (e.g. us-2to4-1f3a9c0d), "
            f"got {plan_id!r}"
        )
    return match["region"]
