"""`geoledger dev up | status | down`: the whole embedded stack on loopback.

`up` starts what is not running yet, creates the databases and buckets the configuration names and
records endpoints and pids in `<state_dir>/stack.json`; `down` stops only what that file records.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ledger.config import ObjectStoreConfig, Settings
from storage.crr.region_keys import ensure_signing_key_file
from storage.embedded.apps import AppProcesses
from storage.embedded.gcs import EmbeddedGcs
from storage.embedded.postgres import EmbeddedPostgres
from storage.embedded.process import LOOPBACK, pid_alive, stop_pid
from storage.embedded.s3 import EmbeddedS3
from storage.embedded.temporal import EmbeddedTemporal
from storage.objectstore.worm_factory import ensure_worm_bucket

STACK_FILE = "stack.json"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class PartStatus:
    """How one part of the stack is: its endpoint, recorded pid, health and log file."""

    name: str
    endpoint: str
    pid: int | None
    healthy: bool
    log: str

    def as_dict(self) -> dict[str, Any]:
        """The status as JSON-ready data, without the name (the caller keys by it)."""
        return {
            "endpoint": self.endpoint,
            "pid": self.pid,
            "healthy": self.healthy,
            "log": self.log,
        }


class EmbeddedStack:
    """The four parts of the embedded stack for one configuration."""

    def __init__(
        self,
        settings: Settings,
        temporal_extra_args: tuple[str, ...] = (),
        postgres_settings: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        dev = settings.dev
        self.state_dir = Path(dev.state_dir).resolve()
        self.temporal = EmbeddedTemporal(
            self.state_dir, dev.temporal_port, dev.temporal_ui_port, extra_args=temporal_extra_args
        )
        self.postgres = EmbeddedPostgres(
            self.state_dir / "postgres", dev.postgres_port, settings=postgres_settings
        )
        self.s3 = EmbeddedS3(self.state_dir, dev.s3_port)
        self.gcs = EmbeddedGcs(self.state_dir, dev.gcs_port)

    @property
    def stack_file(self) -> Path:
        """The file recording the pids of the parts this stack started."""
        return self.state_dir / STACK_FILE

    def up(self) -> dict[str, PartStatus]:
        """Start every part that is not healthy yet, then create databases and buckets."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        record = self._read_record()
        pids: dict[str, int | None] = dict(record.get("pids", {}))
        # Each part: start it unless the recorded process still answers. The record is written
        # after every start, so a part failing later leaves the earlier ones stoppable by `down`.
        if not (self.temporal.healthy() and _alive(pids.get("temporal"))):
            pids["temporal"] = self.temporal.start()
            self._write_record(pids)
        self.postgres.start()
        pids["postgres"] = self.postgres.pid()
        self._write_record(pids)
        if not (self.s3.healthy() and _alive(pids.get("s3"))):
            pids["s3"] = self.s3.start()
            self._write_record(pids)
        if not (self.gcs.healthy() and _alive(pids.get("gcs"))):
            pids["gcs"] = self.gcs.start()
            self._write_record(pids)
        self.provision()
        return self.status()

    def provision(self) -> None:
        """Create every database, bucket and directory the configuration names on this stack."""
        asyncio.run(self.postgres.ensure_databases(self._database_names()))
        s3_buckets, gcs_buckets = self._bucket_names()
        self.s3.ensure_buckets(s3_buckets)
        self.gcs.ensure_buckets(gcs_buckets)
        for config, retention_days in self._worm_buckets():
            asyncio.run(ensure_worm_bucket(config, retention_days))
        for region in self.settings.regions.values():
            Path(region.wal_dir).mkdir(parents=True, exist_ok=True)
            if region.object_store.scheme == "file":
                Path(region.object_store.bucket).mkdir(parents=True, exist_ok=True)
            if region.signing_key_file is not None:
                ensure_signing_key_file(Path(region.signing_key_file))
        for witness in self.settings.witnesses.values():
            if witness.key_file is not None:
                ensure_signing_key_file(Path(witness.key_file))

    def status(self) -> dict[str, PartStatus]:
        """The status of every part, by name."""
        pids = self._read_record().get("pids", {})
        return {
            "temporal": PartStatus(
                "temporal",
                self.temporal.address,
                pids.get("temporal"),
                self.temporal.healthy(),
                str(self.temporal.log_path),
            ),
            "temporal-ui": PartStatus(
                "temporal-ui",
                self.temporal.ui_url,
                pids.get("temporal"),
                self.temporal.healthy(),
                str(self.temporal.log_path),
            ),
            "postgres": PartStatus(
                "postgres",
                self.postgres.dsn(),
                self.postgres.pid(),
                self.postgres.running(),
                str(self.postgres.log_path),
            ),
            "s3": PartStatus(
                "s3", self.s3.endpoint_url, pids.get("s3"), self.s3.healthy(), str(self.s3.log_path)
            ),
            "gcs": PartStatus(
                "gcs",
                self.gcs.endpoint_url,
                pids.get("gcs"),
                self.gcs.healthy(),
                str(self.gcs.log_path),
            ),
        }

    def down(self, postgres_mode: str = "fast") -> list[str]:
        """Stop what `up` recorded, and the geoledger processes started on it; return the names
        of what was stopped."""
        stopped = AppProcesses(self.state_dir).stop_all()
        record = self._read_record()
        if not record:
            return stopped
        for name in ("temporal", "s3", "gcs"):
            pid = record.get("pids", {}).get(name)
            if _alive(pid):
                stop_pid(pid)
                stopped.append(name)
        if self.postgres.pid() is not None:
            self.postgres.stop(postgres_mode)
            stopped.append("postgres")
        self.stack_file.unlink(missing_ok=True)
        return stopped

    def _database_names(self) -> list[str]:
        names: list[str] = []
        for region in self.settings.regions.values():
            for dsn in [region.control_dsn, *region.shard_dsns]:
                parsed = urlparse(dsn)
                if parsed.hostname in _LOOPBACK_HOSTS and parsed.port == self.postgres.port:
                    names.append(parsed.path.lstrip("/"))
        return names

    def _bucket_names(self) -> tuple[list[str], list[str]]:
        s3: list[str] = []
        gcs: list[str] = []
        for region in self.settings.regions.values():
            store = region.object_store
            if store.scheme == "s3" and store.endpoint_url == self.s3.endpoint_url:
                s3.append(store.bucket)
            elif store.scheme == "gs" and store.endpoint_url == self.gcs.endpoint_url:
                gcs.append(store.bucket)
        return s3, gcs

    def _worm_buckets(self) -> list[tuple[ObjectStoreConfig, int]]:
        """The audit stores on this stack's emulators, with their retention: created write-once
        (S3 Object Lock / GCS retention policy), never as plain buckets."""
        ours = (self.s3.endpoint_url, self.gcs.endpoint_url)
        return [
            (region.audit_store, region.audit_retention_days)
            for region in self.settings.regions.values()
            if region.audit_store is not None
            and region.audit_store.scheme in ("s3", "gs")
            and region.audit_store.endpoint_url in ours
        ]

    def _read_record(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.stack_file.read_text())
            return data
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _write_record(self, pids: dict[str, int | None]) -> None:
        record = {
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": LOOPBACK,
            "pids": pids,
            "endpoints": {
                "temporal": self.temporal.address,
                "temporal_ui": self.temporal.ui_url,
                "postgres": self.postgres.dsn(),
                "s3": self.s3.endpoint_url,
                "gcs": self.gcs.endpoint_url,
            },
            "postgres_data_dir": str(self.postgres.data_dir),
        }
        tmp = self.stack_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(self.stack_file)


def _alive(pid: int | None) -> bool:
    return pid is not None and pid_alive(pid)
