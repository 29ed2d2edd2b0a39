"""`OpsService`: what the ops API answers, for its routes and for `geoledger ops` alike (the CLI
calls these, not the HTTP API, and prints the same JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

from api.ops import keys, migrations, shards
from api.ops.databases import OpsDatabases
from api.ops.models import (
    DistributionAnswer,
    KeyAnswer,
    MigrationInfo,
    MigrationsAnswer,
    SampleAnswer,
    ShardsAnswer,
)
from ledger.config import RegionConfig, Settings


class OpsService:
    """Read-only answers about every configured region; databases are connected on first use."""

    def __init__(self, regions: Mapping[str, RegionConfig], connect_timeout_s: float) -> None:
        self._databases = OpsDatabases(regions, connect_timeout_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpsService:
        return cls(settings.regions, settings.ops.connect_timeout_s)

    async def close(self) -> None:
        await self._databases.close()

    async def __aenter__(self) -> OpsService:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def shards(self) -> ShardsAnswer:
        return await shards.shards(self._databases)

    async def distribution(self) -> DistributionAnswer:
        return await shards.distribution(self._databases)

    async def sample_keys(self, tenant: str, n: int) -> SampleAnswer:
        return await keys.sample_keys(self._databases, tenant, n)

    async def locate_key(self, tenant: str, event_id: str) -> KeyAnswer:
        return await keys.locate_key(self._databases, tenant, event_id)

    async def migrations(self) -> MigrationsAnswer:
        return await migrations.migrations(self._databases)

    async def migration(self, migration_id: str) -> MigrationInfo:
        return await migrations.migration(self._databases, migration_id)
