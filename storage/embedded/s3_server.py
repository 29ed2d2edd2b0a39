"""The embedded S3 endpoint: moto's S3 server, with every bucket and object kept on disk.

moto keeps its state in memory, so a stopped server used to lose every shipped segment and
manifest. This entrypoint (`python -m storage.embedded.s3_server --data-dir DIR ...`) runs the same
moto application with one addition: after each successful write request (PUT, POST, DELETE) and
before its answer leaves, the state that request touched - one object's versions, or a bucket's
configuration - is written to `DIR` (pickled moto models, written beside and renamed over). On
start the server loads `DIR` back. So an answered write survives a stop and a kill -9 of the
server; a power loss may lose the writes of the last few seconds (nothing is fsync'd, as for the
embedded Temporal's journal), and a multipart upload in progress (not answered yet) is lost.

Layout (keys are hashed: S3 keys may hold characters a file name cannot):

    DIR/<bucket>/bucket.pickle             the bucket, its objects left out
    DIR/<bucket>/objects/<sha256(key)>.pickle   every version of one key

The pickles are tied to the installed moto version: a moto upgrade that cannot read them stops the
server with an error naming the file (remove DIR to start empty).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3.models import FakeBucket, FakeKey, S3Backend, s3_backends
from werkzeug.serving import run_simple

_WRITES = {"PUT", "POST", "DELETE"}
_BUCKET_FILE = "bucket.pickle"
_OBJECTS = "objects"
_LOCK_STRIPES = 64
_Environ = dict[str, Any]
_StartResponse = Callable[..., Any]


def _backend() -> S3Backend:
    backend: S3Backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    return backend


class DiskState:
    """Writes and loads what the in-memory backend holds, one file per object and per bucket."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def lock(self, bucket: str, key: str) -> threading.Lock:
        """The lock of an object (key "" for the bucket): a write and the save of what it left
        must not interleave with another write of the same object, or an older state could be
        saved last. Striped, so memory does not grow with the number of keys."""
        return self._locks[int(_hash(f"{bucket}/{key}")[:8], 16) % _LOCK_STRIPES]

    def save_bucket(self, name: str, deleted: bool = False) -> None:
        """Save the bucket's configuration; with `deleted` (a DELETE of the bucket itself), remove
        its files once the backend no longer has it. Nothing else removes them, so a request
        this layer misreads can never erase a bucket."""
        bucket = _backend().buckets.get(name)
        directory = self.root / _safe_bucket(name)
        if bucket is None:
            if deleted:
                _remove_tree(directory)
            return
        shell = copy.copy(bucket)
        # The objects have their own files; multipart uploads in progress are not kept.
        shell.keys = type(bucket.keys)()
        shell.multiparts = type(bucket.multiparts)()
        _write_atomic(directory / _BUCKET_FILE, pickle.dumps(shell))

    def save_object(self, bucket_name: str, key: str) -> None:
        """Save the object's versions, or remove its file when the backend no longer has it."""
        bucket = _backend().buckets.get(bucket_name)
        path = self.root / _safe_bucket(bucket_name) / _OBJECTS / f"{_hash(key)}.pickle"
        versions: list[FakeKey] = bucket.keys.getlist(key, []) if bucket else []
        if not versions:
            path.unlink(missing_ok=True)
            return
        _write_atomic(path, pickle.dumps((key, versions)))

    def load(self) -> tuple[int, int]:
        """Put every saved bucket and object back into the backend; (buckets, objects)."""
        backend = _backend()
        buckets = objects = 0
        for bucket_file in sorted(self.root.glob(f"*/{_BUCKET_FILE}")):
            bucket: FakeBucket = _unpickle(bucket_file)
            # FakeBucket.__init__ registers the owning account; unpickling skips __init__.
            s3_backends.bucket_accounts[bucket.name] = (bucket.partition, bucket.account_id)
            backend.buckets[bucket.name] = bucket
            buckets += 1
            for object_file in sorted((bucket_file.parent / _OBJECTS).glob("*.pickle")):
                key, versions = _unpickle(object_file)
                bucket.keys.setlist(key, versions)
                objects += 1
        return buckets, objects


class PersistingApp:
    """WSGI middleware: runs moto, then saves what a successful write changed before answering."""

    def __init__(
        self, app: Callable[[_Environ, _StartResponse], Iterable[bytes]], state: DiskState
    ):
        self._app = app
        self._state = state

    def __call__(self, environ: _Environ, start_response: _StartResponse) -> Iterable[bytes]:
        """Answer one WSGI request, saving what a successful write changed first."""
        target = _s3_target(environ)
        if environ.get("REQUEST_METHOD") not in _WRITES or target is None:
            return self._app(environ, start_response)
        bucket, key = target
        deleted = _deleted_keys(environ) if key == "" and "delete" in _query(environ) else []
        status: list[int] = []

        def recording_start_response(code: str, headers: Any, *args: Any) -> Any:
            status.append(int(code.split()[0]))
            return start_response(code, headers, *args)

        with self._state.lock(bucket, key):
            # The body is consumed here, so the answer is complete before it is saved.
            parts = self._app(environ, recording_start_response)
            try:
                answer = b"".join(parts)
            finally:
                close = getattr(parts, "close", None)
                if close is not None:
                    close()
            if status and status[0] < 300:
                if key:
                    self._state.save_object(bucket, key)
                else:
                    bucket_deleted = environ["REQUEST_METHOD"] == "DELETE" and not _query(environ)
                    self._state.save_bucket(bucket, deleted=bucket_deleted)
                    for name in deleted:
                        self._state.save_object(bucket, name)
        return [answer]


def _s3_target(environ: _Environ) -> tuple[str, str] | None:
    """(bucket, key) of a path-style S3 request (key "" for the bucket itself); None for moto's
    own API and the service root."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api"):
        return None
    parts = path.lstrip("/").split("/", 1)
    if not parts[0]:
        return None
    # Key bytes as the client sent them: PATH_INFO is already percent-decoded by werkzeug except
    # for what RAW_URI keeps; moto itself reads the key from the raw URI.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        raw_parts = raw.split("?", 1)[0].lstrip("/").split("/", 1)
        key = unquote(raw_parts[1]) if len(raw_parts) > 1 else ""
        return unquote(raw_parts[0]), key
    return parts[0], parts[1] if len(parts) > 1 else ""


def _query(environ: _Environ) -> set[str]:
    return {part.split("=", 1)[0] for part in environ.get("QUERY_STRING", "").split("&") if part}


def _deleted_keys(environ: _Environ) -> list[str]:
    """The keys a DeleteObjects request names (its body is read here and handed on intact)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return []
    return [node.text or "" for node in root.iter() if node.tag.endswith("Key") and node.text]


def _write_atomic(path: Path, data: bytes) -> None:
    """Write beside, then rename over: a reader (the next start) sees the old state or the new.
    No fsync: the page cache outlives a killed server, and the emulator trades a power loss's last
    seconds for put latency (an fsync pair tripled it here: docs/DECISIONS.md)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_bytes(data)
    scratch.replace(path)


def _remove_tree(directory: Path) -> None:
    if not directory.exists():
        return
    for path in sorted(directory.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    directory.rmdir()


def _unpickle(path: Path) -> Any:
    try:
        return pickle.loads(path.read_bytes())
    except Exception as exc:
        raise SystemExit(
            f"cannot load {path} ({exc}); it was written by another moto version? "
            "remove the S3 data directory to start empty"
        ) from exc


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _safe_bucket(name: str) -> str:
    # Bucket names are [a-z0-9.-], so they are file names already; refuse anything else.
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"expected an S3 bucket name, got {name!r}")
    return name


def main(argv: list[str] | None = None) -> None:
    """Load the saved state from `--data-dir`, then serve S3 on `--host`:`--port` until stopped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    state = DiskState(args.data_dir.resolve())
    state.root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    buckets, objects = state.load()
    print(
        f"loaded {buckets} buckets, {objects} objects from {state.root} "
        f"in {time.monotonic() - started:.2f}s",
        flush=True,
    )
    app = PersistingApp(DomainDispatcherApplication(create_backend_app), state)
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
