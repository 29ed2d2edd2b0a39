"""The sharded, convergent dedup store on PostgreSQL (ARCHITECTURE §3 "Dedup routing", I3).

`DedupStore.open(region)` connects to a region's control database and shards; `apply` writes
batches of records and reports accepted / duplicate / conflict; `migrate_region` creates and
upgrades the schema and the first routing epoch.
"""

from storage.dedup.errors import (
    DedupError,
    DedupRecordError,
    DedupShardError,
    DedupUnavailableError,
    MigrationError,
    RouteLeaseExpiredError,
    RoutingError,
)
from storage.dedup.migrate import (
    DatabaseMigration,
    Migration,
    RegionMigration,
    load_migrations,
    migrate_database,
    migrate_region,
)
from storage.dedup.models import (
    ApplyResult,
    Conflict,
    DedupRecord,
    Origin,
    Outcome,
    StoredEvent,
)
from storage.dedup.route_epochs import advance_route, route_acks
from storage.dedup.route_watch import RouteNode, RouteWatchOptions
from storage.dedup.routing import Phase, Route, RoutingTable
from storage.dedup.store import DedupStore

__all__ = [
    "ApplyResult",
    "Conflict",
    "DatabaseMigration",
    "DedupError",
    "DedupRecord",
    "DedupRecordError",
    "DedupShardError",
    "DedupStore",
    "DedupUnavailableError",
    "Migration",
    "MigrationError",
    "Origin",
    "Outcome",
    "Phase",
    "RegionMigration",
    "Route",
    "RouteLeaseExpiredError",
    "RouteNode",
    "RouteWatchOptions",
    "RoutingError",
    "RoutingTable",
    "StoredEvent",
    "advance_route",
    "load_migrations",
    "migrate_database",
    "migrate_region",
    "route_acks",
]
