"""Helpers of the object-store conformance suite: opening a fresh store per backend, private
emulators that a test may stop, files large enough to show whether memory stays bounded."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.config import ObjectStoreConfig
from storage.embedded.gcs import EmbeddedGcs
from storage.embedded.process import ensure_port_free, free_port, spawn, stop_pid, wait_until
from storage.embedded.s3 import EmbeddedS3
from storage.objectstore import ObjectStore, TransportPolicy, open_object_store
from tests.conftest import RunningStack

BACKENDS = ("s3", "gcs", "local")
STORE_PREFIX = "ledger"
# Unreachable endpoints should fail in about a second, not after production's retry budget.
IMPATIENT = TransportPolicy(
    connect_timeout_s=1.0, read_timeout_s=5.0, max_attempts=1, retry_deadline_s=1.0
)


def unique_bucket(label: str) -> str:
    # S3 and GCS both accept 3-63 lowercase letters, digits and dashes.
    return f"conf-{label}-{uuid.uuid4().hex[:16]}"


def open_fresh_store(
    backend: str,
    stack: RunningStack,
    scratch: Path,
    prefix: str = STORE_PREFIX,
    transport: TransportPolicy | None = None,
) -> ObjectStore:
    """A store on a bucket (or directory) nobody else uses, keys under `prefix`."""
    return open_object_store(fresh_config(backend, stack, scratch, prefix), transport)


def fresh_config(
    backend: str, stack: RunningStack, scratch: Path, prefix: str
) -> ObjectStoreConfig:
    if backend == "s3":
        bucket = unique_bucket("s3")
        stack.stack.s3.ensure_buckets([bucket])
        return ObjectStoreConfig(url=f"s3://{bucket}/{prefix}", endpoint_url=stack.s3_endpoint)
    if backend == "gcs":
        bucket = unique_bucket("gcs")
        stack.stack.gcs.ensure_buckets([bucket])
        return ObjectStoreConfig(url=f"gs://{bucket}/{prefix}", endpoint_url=stack.gcs_endpoint)
    if backend == "local":
        root = scratch / unique_bucket("local")
        root.mkdir(parents=True)
        return ObjectStoreConfig(url=f"file://{root}")
    raise ValueError(f"expected one of {BACKENDS}, got {backend!r}")


@dataclass(frozen=True)
class PrivateEmulator:
    """An emulator of our own, which a test may stop without touching the shared stack."""

    config: ObjectStoreConfig
    pid: int

    def stop(self) -> None:
        stop_pid(self.pid)


# moto's own entry point with one change: one request at a time (threaded=False; werkzeug then
# speaks HTTP/1.0 and closes each connection, so no client can hold the server).
_SERIAL_MOTO = """
import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app,
)
run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app),
           threaded=False, request_handler=MotoRequestHandler)
"""


@dataclass(frozen=True)
class SerialMotoS3(EmbeddedS3):
    """moto serving one request at a time.

    moto's threaded server checks `If-None-Match: *` and then stores without a lock between the
    two, so under CPU load two racing creators can both win (seen: 1 pair in 300 with two busy
    cores). Real S3 decides conditional writes atomically; a serial moto does too, which is what
    a test of our driver's create-if-absent needs."""

    def start(self) -> int:
        ensure_port_free("s3 (serial moto)", self.port, self.host)
        argv = [sys.executable, "-c", _SERIAL_MOTO, self.host, str(self.port)]
        process = spawn("s3 (serial moto)", argv, self.log_path)
        wait_until("s3 (serial moto)", self.healthy, process, self.log_path)
        return process.pid


@contextmanager
def private_emulator(
    backend: str, state_dir: Path, serial: bool = False
) -> Iterator[PrivateEmulator]:
    """A second moto (serial: one request at a time) or fake-gcs-server on a free loopback port
    with one bucket; always stopped on exit (stopping twice is harmless)."""
    bucket = unique_bucket(backend)
    if backend == "s3":
        s3 = (SerialMotoS3 if serial else EmbeddedS3)(state_dir, free_port())
        pid = s3.start()
        config = ObjectStoreConfig(
            url=f"s3://{bucket}/{STORE_PREFIX}", endpoint_url=s3.endpoint_url
        )
    elif backend == "gcs":
        gcs = EmbeddedGcs(state_dir, free_port())
        pid = gcs.start()
        config = ObjectStoreConfig(
            url=f"gs://{bucket}/{STORE_PREFIX}", endpoint_url=gcs.endpoint_url
        )
    else:
        raise ValueError(f"expected s3 or gcs, got {backend!r}")
    emulator = PrivateEmulator(config, pid)
    try:
        if backend == "s3":
            s3.ensure_buckets([bucket])
        else:
            gcs.ensure_buckets([bucket])
        yield emulator
    finally:
        emulator.stop()


def write_patterned_file(path: Path, size: int) -> str:
    """Write `size` bytes that do not repeat with any short period; return their SHA-256."""
    digest = hashlib.sha256()
    block = 1024 * 1024
    with path.open("wb") as handle:
        for index in range(0, size, block):
            seed = hashlib.sha256(index.to_bytes(8, "big")).digest()
            chunk = (seed * (block // len(seed)))[: min(block, size - index)]
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


@contextmanager
def unwritable_directory(directory: Path) -> Iterator[str]:
    """Make `directory` refuse new entries for real, yielding how. Root ignores permission bits,
    so as root the directory is marked immutable (chattr +i, which refuses even root); otherwise
    its write bits are dropped. Skips the test when neither is possible here."""
    if os.geteuid() != 0:
        mode = directory.stat().st_mode
        directory.chmod(0o555)
        try:
            yield "chmod 0555 (not root)"
        finally:
            directory.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("as root only an immutable flag refuses writes, and chattr is missing")
    marked = subprocess.run([chattr, "+i", str(directory)], capture_output=True, text=True)
    if marked.returncode != 0:
        pytest.skip(f"this file system refuses chattr +i: {marked.stderr.strip()}")
    try:
        yield "chattr +i (root ignores permission bits)"
    finally:
        subprocess.run([chattr, "-i", str(directory)], check=True, capture_output=True)
