"""Per-region connections a worker process shares between its activities: opened on first use,
closed once when the worker stops.

The resources of a queue whose activities write to the dedup shards (replay, tiering) open each
region's store as a watched writer node, `worker/<host>/<pid>`: it follows the region's route and
acknowledges each new epoch, so a re-sharding waits for it (storage/dedup/route_watch.py).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import time

from ledger.config import Settings
from storage.crr.verify_events import EventVerifier, verification_workers
from storage.dedup.route_watch import RouteNode, RouteWatchOptions
from storage.dedup.store import DedupStore
from storage.keys import KeyCache, KeyRegistry
from storage.objectstore import ObjectStore, open_object_store

# A process normally runs one queue; when it runs several writing ones (tests), each gets a node
# of its own, or one closing would delete the row the other still acknowledges with.
_WRITERS = itertools.count(1)


class RegionResources:
    """One worker process's connections to each region: object stores, dedup stores, key caches
    and event verifiers. With `writer`, its dedup stores are watched writer nodes."""

    def __init__(self, settings: Settings, *, writer: bool = False) -> None:
        self._settings = settings
        self._node = _worker_node() if writer else None
        self._watch = RouteWatchOptions.from_settings(settings) if writer else None
        self._dedup: dict[str, DedupStore] = {}
        self._route_read: dict[str, float] = {}
        self._stores: dict[str, ObjectStore] = {}
        self._keys: dict[str, KeyCache] = {}
        self._registries: list[KeyRegistry] = []
        self._verifiers: dict[str, EventVerifier] = {}
        # One set of worker processes per worker process, whatever the number of regions.
        self._cpu = verification_workers()
        self._lock = asyncio.Lock()

    def store(self, region: str) -> ObjectStore:
        """The object store of `region`, opened on first use."""
        if region not in self._stores:
            self._stores[region] = open_object_store(self._settings.region(region).object_store)
        return self._stores[region]

    async def dedup(self, region: str) -> DedupStore:
        """The dedup store of `region`, opened on first use.

        A writer's store follows the route on its own; a reader's (the ops samplers, the
        migrate activities) re-reads it here at most every `route_poll_s`, so what it reads
        after a re-sharding is the new ring's."""
        async with self._lock:
            if region not in self._dedup:
                self._dedup[region] = await DedupStore.open(
                    self._settings.region(region), node=self._node, watch=self._watch
                )
                self._route_read[region] = time.monotonic()
            elif self._node is None and self._route_stale(region):
                await self._dedup[region].refresh_routing()
                self._route_read[region] = time.monotonic()
            return self._dedup[region]

    def _route_stale(self, region: str) -> bool:
        age = time.monotonic() - self._route_read.get(region, 0.0)
        return age >= self._settings.migrate.route_poll_s

    async def keys(self, region: str) -> KeyCache:
        """A cache of `region`'s key registry, opened on first use."""
        async with self._lock:
            if region not in self._keys:
                registry = await KeyRegistry.open(self._settings, regions=[region])
                self._registries.append(registry)
                self._keys[region] = KeyCache(registry)
            return self._keys[region]

    async def event_verifier(self, region: str) -> EventVerifier:
        """Re-verifies replayed events against `region`'s key registry, in worker processes."""
        keys = await self.keys(region)
        if region not in self._verifiers:
            self._verifiers[region] = EventVerifier(keys, region, self._cpu)
        return self._verifiers[region]

    async def close(self) -> None:
        """Close the dedup stores, the key registries and the verification worker processes."""
        for dedup in self._dedup.values():
            await dedup.close()
        for registry in self._registries:
            await registry.close()
        self._cpu.close()
        self._dedup.clear()
        self._keys.clear()
        self._verifiers.clear()
        self._registries.clear()


def _worker_node() -> RouteNode:
    name = f"worker/{socket.gethostname()}/{os.getpid()}"
    nth = next(_WRITERS)
    return RouteNode(name if nth == 1 else f"{name}/{nth}", "worker")
