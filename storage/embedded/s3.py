"""A real S3 endpoint on loopback: the `moto` server (`moto[server]`), its objects kept on disk
under `<state_dir>/s3-data` (storage/embedded/s3_server.py) so they outlive a restart."""

from __future__ import annotations

import os
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
# pragma: allowlist nextline secret (moto's placeholder pair, only for the embedded stack)
DEV_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "geoledger-dev", "AWS_SECRET_ACCESS_KEY": "geoledger-dev"}


@dataclass(frozen=True)
class EmbeddedS3:
    """The moto S3 server of the embedded stack: its state directory and loopback address."""

    state_dir: Path
    port: int
    host: str = LOOPBACK

    @property
    def endpoint_url(self) -> str:
        """The URL clients reach the server at."""
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.state_dir / "s3.log"

    @property
    def data_dir(self) -> Path:
        """Where the server keeps its buckets and objects."""
        return self.state_dir / "s3-data"

    def healthy(self) -> bool:
        """True when the server answers."""
        try:
            # moto's config page: data.json would serialise every stored object (seconds when many).
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/config", timeout=1):
                return True
        except OSError:
            return False

    def start(self) -> int:
        """Start the server on the objects saved in `data_dir` and return its pid."""
        ensure_port_free(PART, self.port, self.host)
        argv = [
            sys.executable, "-m", "storage.embedded.s3_server",
            "--host", self.host,
            "--port", str(self.port),
            "--data-dir", str(self.data_dir),
        ]  # fmt: skip
        process = spawn(PART, argv, self.log_path)
        # Loading saved objects takes about 0.1 ms each (docs/DECISIONS.md): allow for many.
        wait_until(PART, self.healthy, process, self.log_path, timeout_s=120.0)
        return process.pid

    def ensure_buckets(self, names: list[str], region_name: str = "us-east-1") -> list[str]:
        """Create each bucket that does not exist yet; return those created."""
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
