"""Settings of two regions of their own for one test: fresh databases (migrated), a private WAL
directory and a private object-store prefix, on the session's embedded stack."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from ledger.config import RegionConfig, Settings, load_settings
from storage.crr.region_keys import ensure_signing_key_file
from storage.dedup.migrate import migrate_region
from storage.embedded.process import free_port
from tests.conftest import RunningStack

# Every database the session's file names, in any region (us lists four shards, eu two).
DATABASES = ("control", "shard0", "shard1", "shard2", "shard3")


def with_own_prefixes(region: RegionConfig, tag: str) -> RegionConfig:
    """`region` with its object store and its write-once store under the prefix `tag` of their
    buckets: objects are keyed by stream and seq, the same in every run on a shared stack."""
    store = region.object_store
    # The write-once store too: a write-once store keeps the first run's bytes for years.
    audit_store = region.audit_store and region.audit_store.model_copy(
        update={"url": f"{region.audit_store.scheme}://{region.audit_store.bucket}/{tag}"}
    )
    return region.model_copy(
        update={
            "object_store": store.model_copy(
                update={"url": f"{store.scheme}://{store.bucket}/{tag}"}
            ),
            "audit_store": audit_store,
        }
    )


async def isolated_settings(running_stack: RunningStack, root: Path, label: str) -> Settings:
    tag = f"{label}_{uuid.uuid4().hex[:8]}"
    regions: dict[str, RegionConfig] = {}
    for name, region in running_stack.settings.regions.items():
        databases = [f"{tag}_{name}_control", *(f"{tag}_{name}_shard{i}" for i in range(2))]
        await running_stack.stack.postgres.ensure_databases(databases)
        dsns = [running_stack.postgres_dsn(db) for db in databases]
        key_file = root / "keys" / f"region-{name}.pem"
        ensure_signing_key_file(key_file)
        regions[name] = with_own_prefixes(region, tag).model_copy(
            update={
                "control_dsn": dsns[0],
                "shard_dsns": dsns[1:],
                "initial_ring": None,
                "wal_dir": root / "wal" / name,
                "signing_key_file": key_file,
                "nodes": [node.model_copy(update={"port": free_port()}) for node in region.nodes],
            }
        )
    for region in regions.values():
        await migrate_region(region)
    return running_stack.settings.model_copy(update={"regions": regions})


async def fresh_config_file(running_stack: RunningStack, directory: Path, label: str) -> Path:
    """The session's configuration file, written into `directory`, with every database renamed
    to fresh, migrated ones (for commands run with `--config`)."""
    tag = f"{label}_{uuid.uuid4().hex[:6]}"
    path = directory / "geoledger.toml"
    path.write_text(running_stack.config_path.read_text().replace("/geoledger_", f"/{tag}_"))
    await running_stack.stack.postgres.ensure_databases(
        [f"{tag}_{r}_{db}" for r in running_stack.settings.regions for db in DATABASES]
    )
    await asyncio.gather(*(migrate_region(r) for r in load_settings(path).regions.values()))
    return path


def settings_env(settings: Settings, config_path: Path) -> dict[str, str]:
    """Environment that makes a `geoledger …` subprocess load exactly `settings`: the session's
    file for everything else, and the regions (with their private databases), the witnesses, and
    the [audit], [migrate], [limits] and [tls] settings as JSON."""
    return {
        "GEOLEDGER_CONFIG": str(config_path),
        "GEOLEDGER_REGIONS": json.dumps(
            {name: region.model_dump(mode="json") for name, region in settings.regions.items()}
        ),
        "GEOLEDGER_WITNESSES": json.dumps(
            {name: witness.model_dump(mode="json") for name, witness in settings.witnesses.items()}
        ),
        "GEOLEDGER_AUDIT": settings.audit.model_dump_json(),
        "GEOLEDGER_MIGRATE": settings.migrate.model_dump_json(),
        "GEOLEDGER_LIMITS": settings.limits.model_dump_json(),
        "GEOLEDGER_TLS": settings.tls.model_dump_json(),
    }
