"""A region's processes on the embedded stack as `geoledger demo` started them (recorded in the
stack's state): what `drill region-outage` kills, restarts on the disks they had, or, with
`--lose-disk`, starts again under new node names written into the stack's configuration file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ledger.config import Settings
from storage.embedded.apps import AppProcesses
from storage.embedded.config_nodes import write_region_nodes
from workers.demo_story import wait_for_nodes
from workflows import queues


class DrillPreconditionError(Exception):
    """The stack the drill acts on is not running as `geoledger demo` leaves it."""


class StackRegionProcesses:
    """A region's ingest nodes and their shippers as `geoledger demo` started them."""

    def __init__(self, settings: Settings, state_dir: Path, region: str, config_path: Path) -> None:
        self._settings, self._region, self._config_path = settings, region, config_path
        self._apps = AppProcesses(state_dir)
        self.names = outage_processes(settings, region)
        running = self._apps.all()
        missing = [n for n in self.names if n not in running or not running[n].alive]
        if missing:
            raise DrillPreconditionError(
                f"{', '.join(missing)} not running: start the stack with `geoledger demo` first"
            )
        self._argv = {name: running[name].argv[1:] for name in self.names}

    def kill(self) -> None:
        for name in self.names:
            self._apps.kill(name)

    async def restore(self) -> None:
        for name in self.names:
            self._apps.ensure(name, self._argv[name])
        await asyncio.to_thread(wait_for_nodes, self._settings)

    async def rebuild(self, settings: Settings) -> None:
        """Write the region's new node names into the configuration file, start its nodes and
        shippers under them (the old ones' records dropped), and restart the shared workers and
        the region's witnesses, which read the node names and the region's databases when they
        start; return once every node answers."""
        config = settings.region(self._region)
        write_region_nodes(self._config_path, self._region, config.nodes, config.lost_nodes)
        old = self._settings.region(self._region).nodes
        for before, after in zip(old, config.nodes, strict=True):
            ingest, worker = _names(self._region, before.name)
            self._apps.stop(ingest)  # killed: this drops their records
            self._apps.stop(worker)
            new_ingest, new_worker = _names(self._region, after.name)
            self._apps.ensure(new_ingest, _with(self._argv[ingest], "--node", after.name))
            queue = queues.node_queue(self._region, after.name)
            self._apps.ensure(new_worker, _with(self._argv[worker], "--queue", queue))
        running = self._apps.all()
        shared = [f"worker-{queue}" for queue in queues.SHARED_QUEUES]
        witnesses = [name for name, w in settings.witnesses.items() if w.region == self._region]
        for name in [*shared, *witnesses]:
            if name in running:
                self._apps.stop(name)
                self._apps.ensure(name, running[name].argv[1:])
        self._settings, self.names = settings, outage_processes(settings, self._region)
        self._argv = {name: self._apps.all()[name].argv[1:] for name in self.names}
        await asyncio.to_thread(wait_for_nodes, settings)


def outage_processes(settings: Settings, region: str) -> list[str]:
    """The app processes that make up a region's ingest and shipping."""
    names: list[str] = []
    for node in settings.region(region).nodes:
        names += _names(region, node.name)
    return names


def _names(region: str, node: str) -> list[str]:
    """The recorded names of a node's ingest process and its worker."""
    return [f"ingest-{region}-{node}", f"worker-{queues.node_queue(region, node)}"]


def _with(argv: list[str], option: str, value: str) -> list[str]:
    """`argv` with the value of `option` replaced by `value`."""
    at = argv.index(option) + 1
    return [*argv[:at], value, *argv[at + 1 :]]
