"""One-shot provisioning of the docker compose stack (its `provision` service): what
`geoledger dev up` does for the embedded stack once its servers run. It creates the signing keys
the configuration names (regions' manifest keys, witnesses' keys) in the keys volume, each
region's buckets (audit stores write-once: S3 Object Lock, GCS retention policy), and registers
geoledger's search attributes on Temporal. Idempotent: it runs on every `docker compose up`, and
waits for the services it needs, which start at the same time.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path

import boto3
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)

from ledger.config import ObjectStoreConfig, Settings, load_settings
from ledger.search_attributes import KEYWORD_ATTRIBUTES
from storage.crr.region_keys import ensure_signing_key_file
from storage.objectstore.worm_factory import ensure_worm_bucket
from workers.client import connect
from workers.process_exit import exit_now

# Temporal's auto-setup creates its schema and namespace before it answers: give it minutes.
WAIT_S = 300.0
# fake-gcs-server asks for a project on bucket creation and checks nothing about it.
GCS_PROJECT = "geoledger-compose"


def main() -> None:
    settings = load_settings()
    for key_file in _key_files(settings):
        if ensure_signing_key_file(key_file):
            print(f"created {key_file}")
    for region in settings.regions.values():
        store = region.object_store
        _retry(f"bucket of {store.url}", partial(_ensure_plain_bucket, store))
        if region.audit_store is not None:
            audit = region.audit_store
            _retry(
                f"write-once bucket of {audit.url}",
                partial(_ensure_worm_bucket, audit, region.audit_retention_days),
            )
    asyncio.run(_register_search_attributes(settings))
    print("provisioned")


def _key_files(settings: Settings) -> list[Path]:
    regions = [region.signing_key_file for region in settings.regions.values()]
    witnesses = [witness.key_file for witness in settings.witnesses.values()]
    return [Path(path) for path in [*regions, *witnesses] if path is not None]


def _ensure_plain_bucket(store: ObjectStoreConfig) -> None:
    if store.scheme == "s3":
        # Credentials from the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
        client = boto3.client("s3", endpoint_url=store.endpoint_url, region_name=store.region_name)
        existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
        if store.bucket not in existing:
            client.create_bucket(Bucket=store.bucket)
    elif store.scheme == "gs":
        # fake-gcs-server's JSON API directly: the emulator takes no credentials.
        with urllib.request.urlopen(f"{store.endpoint_url}/storage/v1/b", timeout=5) as answer:
            existing = {item["name"] for item in json.load(answer).get("items", [])}
        if store.bucket not in existing:
            request = urllib.request.Request(
                f"{store.endpoint_url}/storage/v1/b?project={GCS_PROJECT}",
                data=json.dumps({"name": store.bucket}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            urllib.request.urlopen(request, timeout=5).close()


def _ensure_worm_bucket(store: ObjectStoreConfig, retention_days: int) -> None:
    asyncio.run(ensure_worm_bucket(store, retention_days))


async def _register_search_attributes(settings: Settings) -> None:
    namespace = settings.temporal.namespace
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            client = await connect(settings)
            listed = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=namespace)
            )
            missing = [name for name in KEYWORD_ATTRIBUTES if name not in listed.custom_attributes]
            if missing:
                keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                await client.operator_service.add_search_attributes(
                    AddSearchAttributesRequest(
                        namespace=namespace, search_attributes=dict.fromkeys(missing, keyword)
                    )
                )
                print(f"registered search attributes {missing}")
            return
        except Exception as exc:  # not up yet, or its namespace not created yet: wait
            if time.monotonic() > deadline:
                raise
            print(f"waiting for Temporal at {settings.temporal.address}: {exc}")
            await asyncio.sleep(2)


def _retry(what: str, step: Callable[[], object]) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            step()
            return
        except Exception as exc:  # the service is still starting: wait for it
            if time.monotonic() > deadline:
                raise
            print(f"waiting for {what}: {exc}")
            time.sleep(2)


if __name__ == "__main__":
    main()
    exit_now(0)
