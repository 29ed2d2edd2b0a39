"""deploy/compose/provision.py, the compose stack's one-shot `provision` service, run as that
service runs it (its own process, the configuration from GEOLEDGER_CONFIG) against the session's
real Temporal, S3 and GCS: it creates every signing key and bucket the configuration names, the
audit stores write-once, finds geoledger's search attributes registered, and a second run (the
next `docker compose up`) changes nothing and succeeds."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest

from ledger.config import load_settings
from storage.objectstore.worm_factory import check_worm_bucket
from tests.conftest import REPO_ROOT, RunningStack

pytestmark = pytest.mark.timeout(180)

PROVISION = REPO_ROOT / "deploy" / "compose" / "provision.py"


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOLEDGER_")}
    # The script runs from /etc/geoledger in the image, with the package installed: here the
    # checkout is the package.
    env.update(GEOLEDGER_CONFIG=str(config), PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, str(PROVISION)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_provision_creates_keys_and_buckets_once(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    # The session's configuration with buckets and key files of this test's own.
    prefix = f"provision-{uuid.uuid4().hex[:8]}-"
    keys_dir = running_stack.settings.dev.state_dir / "keys"
    text = running_stack.config_path.read_text()
    text = text.replace("://geoledger-", f"://{prefix}").replace(str(keys_dir), str(tmp_path))
    config = tmp_path / "geoledger.toml"
    config.write_text(text)
    settings = load_settings(config)

    first = _run(config)
    assert first.returncode == 0, first.stdout + first.stderr
    key_files = [Path(r.signing_key_file) for r in settings.regions.values() if r.signing_key_file]
    key_files += [Path(w.key_file) for w in settings.witnesses.values() if w.key_file]
    assert len(key_files) == 4
    for path in key_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    us, eu = settings.region("us"), settings.region("eu")
    s3 = boto3.client("s3", endpoint_url=us.object_store.endpoint_url, region_name="us-east-1")
    s3_buckets = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    assert {f"{prefix}us", f"{prefix}us-audit"} <= s3_buckets
    with urllib.request.urlopen(f"{eu.object_store.endpoint_url}/storage/v1/b") as answer:
        gcs_buckets = {item["name"] for item in json.load(answer)["items"]}
    assert {f"{prefix}eu", f"{prefix}eu-audit"} <= gcs_buckets
    assert us.audit_store is not None and eu.audit_store is not None
    # S3 Object Lock holds the audit leaves; fake-gcs-server keeps no retention policy at all.
    assert asyncio.run(check_worm_bucket(us.audit_store, us.audit_retention_days)) == []
    gcs_problems = asyncio.run(check_worm_bucket(eu.audit_store, eu.audit_retention_days))
    assert all("retention" in problem for problem in gcs_problems), gcs_problems
    with_keys = {path: path.read_bytes() for path in key_files}

    second = _run(config)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "created" not in second.stdout and "registered" not in second.stdout
    assert {path: path.read_bytes() for path in key_files} == with_keys
