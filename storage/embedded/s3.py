"""A real S3 endpoint on loopback: the `moto` server (`moto[server]`)."""

from __future__ import annotations

import os
import shutil
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from ledger.config import Settings
from storage.embedded.process import LOOPBACK, ensure_port_free, spawn, wait_until

PART = "s3 (moto)"
# The emulator accepts any credentials; these make boto3's default chain resolve offline.
DEV_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "geoledger-dev", "AWS_SECRET_ACCESS_KEY": "geoledger-dev"}


@dataclass(frozen=True)
class EmbeddedS3:
    state_dir: Path
    port: int
    host: str = LOOPBACK

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "s3.log"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/data.json", timeout=1):
                return True
        except OSError:
            return False

    def start(self) -> int:
        """Start the server and return its pid."""
        ensure_port_free(PART, self.port, self.host)
        server = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        process = spawn(PART, [server, "-H", self.host, "-p", str(self.port)], self.log_path)
        wait_until(PART, self.healthy, process, self.log_path)
        return process.pid

    def ensure_buckets(self, names: list[str], region_name: str = "us-east-1") -> list[str]:
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=region_name,
            aws_access_key_id=DEV_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DEV_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(retries={"max_attempts": 2}),
        )
        existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
        created = [name for name in names if name not in existing]
        for name in created:
            client.create_bucket(Bucket=name)
        return created


def use_dev_credentials(settings: Settings) -> bool:
    """When a region's S3 store is the embedded moto endpoint and the environment names no AWS
    credentials, set moto's placeholder ones for this process (and those it starts). Real
    endpoints always use boto3's own credential chain. True when it set them."""
    embedded = f"http://127.0.0.1:{settings.dev.s3_port}"
    uses_moto = any(
        region.object_store.scheme == "s3" and region.object_store.endpoint_url == embedded
        for region in settings.regions.values()
    )
    if not uses_moto or os.environ.get("AWS_ACCESS_KEY_ID"):
        return False
    os.environ.update(DEV_CREDENTIALS)
    return True
