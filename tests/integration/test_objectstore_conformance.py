"""One suite, the same named cases, against every object store backend: S3 on the real moto
server, GCS on the real fake-gcs-server, and the local file system.

Each backend gets fresh buckets (or a fresh directory) for this module, keys under the prefix
`ledger`, so other tests' objects never show up and ours never leak into theirs.

Which error each backend can be made to raise for real here, and how:

| backend | error              | how it is provoked                                              |
|---------|--------------------|-----------------------------------------------------------------|
| all     | ObjectNotFound     | get / head / range / stream / download of a key never written   |
| all     | PreconditionFailed | put(if_match=) with a stale version, or on a missing object     |
| all     | InvalidKey         | keys with empty or '..' segments (nothing is sent)              |
| s3      | Unavailable        | a private moto server, stopped before the call                  |
| gcs     | Unavailable        | a private fake-gcs-server, stopped before the call              |
| local   | Unavailable        | the store's root directory removed (an unmounted volume)        |
| s3      | AccessDenied       | bucket policy denying s3:GetObject: moto enforces an explicit   |
|         |                    | Deny of a bucket policy on object requests, no MOTO_* needed    |
| local   | AccessDenied       | root made unwritable: chattr +i as root, chmod 0555 otherwise   |
| gcs     | AccessDenied       | NOT PROVOKED: fake-gcs-server implements no authorization; the  |
|         |                    | mapping (403 Forbidden, 401 -> AccessDenied) is untested here   |

Storage classes: each backend writes in a class of its own (S3 GLACIER_IR, GCS ARCHIVE, both read
directly; the local FS ignores the class) and the provider itself is asked which class it holds.
Only S3 archives: a GLACIER object raises ObjectArchived on every read until moto's restore
simulation (RestoreObject; its default transition makes the copy ready at once) has restored it.

Ranges: `get_range(key, start, end)` is `get(key)[start:end]`, so a range past the end is clipped
and one starting at or past the end is empty (S3 and GCS answer 416 there; the drivers turn that
into b"" after it proved the object exists).

Concurrency of create-if-absent: real S3 and GCS decide conditional writes atomically. moto
5.x's threaded server checks `If-None-Match: *` and then stores with no lock between the two;
under CPU load two racing creators both won in 1 of 300 pairs here. The S3 race case therefore
runs against a private moto serving one request at a time (atomic, like S3); every other S3 case
uses the shared moto.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import boto3
import pytest

from ledger.config import ObjectStoreConfig
from storage.objectstore import (
    AccessDenied,
    InvalidKey,
    ObjectArchived,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    PreconditionFailed,
    RestoreNotSupported,
    RestoreStatus,
    Unavailable,
    open_object_store,
)
from storage.objectstore.errors import ObjectStoreError
from storage.objectstore.gcs_client import open_gcs_client
from tests.conftest import RunningStack
from tests.integration.objectstore_support import (
    BACKENDS,
    IMPATIENT,
    fresh_config,
    open_fresh_store,
    private_emulator,
    unwritable_directory,
    write_patterned_file,
)

pytestmark = pytest.mark.timeout(120)

MIB = 1024 * 1024
LARGE_SIZE = 64 * MIB + 12345  # not a multiple of any part or chunk size
LISTED_KEYS = 1005  # beyond one page of S3's and GCS's listings (1,000)
ALL_BYTES = bytes(range(256)) * 4


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def store(
    backend: str, running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> ObjectStore:
    return open_fresh_store(backend, running_stack, tmp_path_factory.mktemp("objects"))


@pytest.fixture(scope="module")
async def listed_keys(store: ObjectStore) -> list[str]:
    """LISTED_KEYS objects under `many/`, written once per backend for the listing cases."""
    keys = [f"many/k-{index:04d}" for index in range(LISTED_KEYS)]
    gate = asyncio.Semaphore(16)

    async def put(key: str) -> None:
        async with gate:
            await store.put(key, key.encode())

    await asyncio.gather(*(put(key) for key in keys))
    return keys


async def collect(listing: AsyncIterator[ObjectInfo]) -> list[str]:
    return [info.key async for info in listing]


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("roundtrip/empty", b""),
        ("roundtrip/all-bytes.bin", ALL_BYTES),
        ("roundtrip/ключ 日本語 🙂.bin", b"unicode key"),
        ("roundtrip/sym bols+%&=?#~'(),;.bin", b"punctuation in the key"),
    ],
    ids=["empty", "binary", "unicode-key", "punctuation-key"],
)
async def test_put_then_get_returns_the_same_bytes(
    store: ObjectStore, key: str, data: bytes
) -> None:
    written = await store.put(key, data, content_type="application/x-test")
    assert await store.get(key) == data
    head = await store.head(key)
    assert (head.key, head.size, head.sha256) == (key, len(data), hashlib.sha256(data).hexdigest())
    assert head.content_type == "application/x-test"
    assert head.version == written.version
    assert await store.exists(key)
    assert key in await collect(store.list(prefix="roundtrip/"))


async def test_put_replaces_and_changes_the_version(store: ObjectStore) -> None:
    first = await store.put("replace/x", b"first")
    second = await store.put("replace/x", b"second, longer")
    assert await store.get("replace/x") == b"second, longer"
    assert (await store.head("replace/x")).size == len(b"second, longer")
    assert first.version != second.version


async def test_delete_removes_and_is_idempotent(store: ObjectStore) -> None:
    await store.put("delete/x", b"x")
    await store.delete("delete/x")
    assert not await store.exists("delete/x")
    await store.delete("delete/x")  # a second time: still fine
    await store.delete("delete/never-written")
    with pytest.raises(ObjectNotFound):
        await store.get("delete/x")


async def test_stream_and_download_of_a_small_object(store: ObjectStore, tmp_path: Path) -> None:
    await store.put("small/x", ALL_BYTES)
    assert b"".join([chunk async for chunk in store.get_stream("small/x")]) == ALL_BYTES
    info = await store.get_to_file("small/x", tmp_path / "x")
    assert (tmp_path / "x").read_bytes() == ALL_BYTES
    assert info.size == len(ALL_BYTES)
    await store.put("small/empty", b"")
    assert [chunk async for chunk in store.get_stream("small/empty")] == []


# --- ranges --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 10),  # start
        (100, 356),  # middle, across the 256-byte pattern
        (1000, 1024),  # exactly the end
        (1000, 5000),  # past the end: clipped
        (1023, 1024),  # the last byte
        (1024, 1030),  # starting at the end: empty
        (5000, 6000),  # starting past the end: empty
        (7, 7),  # empty range
    ],
)
async def test_get_range_is_a_slice(store: ObjectStore, start: int, end: int) -> None:
    await store.put("range/x", ALL_BYTES)
    assert await store.get_range("range/x", start, end) == ALL_BYTES[start:end]


async def test_get_range_of_an_empty_object_and_bad_bounds(store: ObjectStore) -> None:
    await store.put("range/empty", b"")
    assert await store.get_range("range/empty", 0, 1) == b""
    with pytest.raises(ValueError, match="start <= end_exclusive"):
        await store.get_range("range/empty", 5, 4)
    with pytest.raises(ValueError, match="0 <= start"):
        await store.get_range("range/empty", -1, 4)
    with pytest.raises(ObjectNotFound):
        await store.get_range("range/missing", 3, 3)


# --- listing -------------------------------------------------------------------------------------


async def test_list_yields_lexicographic_byte_order(store: ObjectStore) -> None:
    # "-" (0x2d) < "/" (0x2f) < "0" (0x30): a per-directory walk would put "a/b" before "a-c".
    # No key is also the "directory" of another: the local FS (and fake-gcs-server's file-system
    # backend) cannot hold both `a` and `a/b`.
    keys = ["order/a-c", "order/a/b", "order/a/b0", "order/a0", "order/B", "order/b/c"]
    keys += ["order/é", "order/z", "order/zz/deep/er", "order/日", "order/🙂"]
    await asyncio.gather(*(store.put(key, b"k") for key in keys))
    expected = sorted(keys, key=lambda key: key.encode())
    assert expected.index("order/a-c") < expected.index("order/a/b") < expected.index("order/a0")
    assert await collect(store.list(prefix="order/")) == expected
    below_a = [key for key in expected if key.startswith("order/a")]
    assert await collect(store.list(prefix="order/a")) == below_a
    assert (
        await collect(store.list(prefix="order/a", start_after="order/a-c", limit=2))
        == (below_a[1:3])
    )


async def test_list_pages_beyond_one_thousand_keys(
    store: ObjectStore, listed_keys: list[str]
) -> None:
    assert await collect(store.list(prefix="many/")) == listed_keys


async def test_list_start_after_and_limit(store: ObjectStore, listed_keys: list[str]) -> None:
    after = listed_keys[499]
    assert await collect(store.list(prefix="many/", start_after=after)) == listed_keys[500:]
    # A limit that ends past one provider page, and one that ends inside it.
    assert await collect(store.list(prefix="many/", limit=1001)) == listed_keys[:1001]
    assert (
        await collect(store.list(prefix="many/", start_after=after, limit=3))
        == (listed_keys[500:503])
    )
    assert await collect(store.list(prefix="many/", limit=0)) == []
    # start_after need not be a key that exists, nor lie under the prefix.
    assert (
        await collect(store.list(prefix="many/", start_after="many/k-1000x"))
        == (listed_keys[1001:])
    )
    assert await collect(store.list(prefix="many/", start_after="a", limit=2)) == listed_keys[:2]
    assert await collect(store.list(prefix="many/", start_after="zzz")) == []


async def test_list_prefix_narrows(store: ObjectStore, listed_keys: list[str]) -> None:
    assert await collect(store.list(prefix="many/k-00")) == listed_keys[:100]
    assert await collect(store.list(prefix="many/k-1004")) == ["many/k-1004"]
    assert await collect(store.list(prefix="many/nothing-here")) == []
    assert await collect(store.list(prefix="no-such-prefix/")) == []


async def test_list_stays_inside_the_store_prefix(
    backend: str, running_stack: RunningStack, tmp_path: Path
) -> None:
    config = fresh_config(backend, running_stack, tmp_path, prefix="ledger")
    inside = open_object_store(config)
    if backend == "local":
        sibling_root = Path(config.bucket).parent / (Path(config.bucket).name + "2")
        sibling_root.mkdir()
        sibling = open_object_store(config.model_copy(update={"url": f"file://{sibling_root}"}))
    else:
        # The same bucket, prefix "ledger2": keys there start with "ledger" too.
        sibling = open_object_store(config.model_copy(update={"url": config.url + "2"}))
    await inside.put("a", b"inside")
    await sibling.put("a", b"outside")
    assert await collect(inside.list()) == ["a"]
    assert await inside.get("a") == b"inside"


# --- conditional writes --------------------------------------------------------------------------


async def test_put_if_absent_creates_once_and_leaves_the_first(store: ObjectStore) -> None:
    assert await store.put_if_absent("absent/x", b"first") is True
    assert await store.put_if_absent("absent/x", b"second") is False
    assert await store.get("absent/x") == b"first"


async def test_put_if_absent_race_has_exactly_one_winner(
    store: ObjectStore, backend: str, tmp_path: Path
) -> None:
    if backend == "s3":
        # The shared moto is threaded and its conditional write is not atomic (see the module
        # docstring): race against one that, like S3, decides one request at a time.
        with private_emulator("s3", tmp_path / "serial-moto", serial=True) as emulator:
            await race_creators(open_object_store(emulator.config))
    else:
        await race_creators(store)


async def race_creators(store: ObjectStore) -> None:
    for round_ in range(20):
        key = f"race/{round_}"
        payloads = (f"writer A, round {round_}".encode(), f"writer B, round {round_}!".encode())
        won = await asyncio.gather(*(store.put_if_absent(key, payload) for payload in payloads))
        assert sorted(won) == [False, True], f"round {round_}: {won}"
        winner = payloads[won.index(True)]
        assert await store.get(key) == winner
        assert (await store.head(key)).sha256 == hashlib.sha256(winner).hexdigest()


async def test_put_if_match_is_compare_and_swap(store: ObjectStore) -> None:
    first = await store.put("cas/x", b"v1")
    second = await store.put("cas/x", b"v2", if_match=first.version)
    assert await store.get("cas/x") == b"v2"
    with pytest.raises(PreconditionFailed) as stale:
        await store.put("cas/x", b"v3 from a stale reader", if_match=first.version)
    assert await store.get("cas/x") == b"v2"
    assert "cas/x" in str(stale.value)
    with pytest.raises(PreconditionFailed):
        await store.put("cas/never-written", b"v1", if_match=second.version)
    assert not await store.exists("cas/never-written")


# --- large objects -------------------------------------------------------------------------------


async def test_large_object_streams_with_bounded_memory(
    store: ObjectStore, backend: str, tmp_path: Path
) -> None:
    source = tmp_path / "large.bin"
    expected_sha256 = write_patterned_file(source, LARGE_SIZE)
    peaks: dict[str, int] = {}
    seconds: dict[str, float] = {}
    tracemalloc.start()
    try:
        # Upload from the file: multipart on S3, resumable on GCS.
        started = time.perf_counter()
        written = await store.put_file("large/x.bin", source)
        seconds["put_file"] = time.perf_counter() - started
        peaks["put_file"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()

        started = time.perf_counter()
        downloaded = await store.get_to_file("large/x.bin", tmp_path / "download.bin")
        seconds["get_to_file"] = time.perf_counter() - started
        peaks["get_to_file"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()

        started = time.perf_counter()
        digest, streamed = hashlib.sha256(), 0
        async for chunk in store.get_stream("large/x.bin"):
            digest.update(chunk)
            streamed += len(chunk)
        seconds["get_stream"] = time.perf_counter() - started
        peaks["get_stream"] = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"\n{backend} {LARGE_SIZE / MIB:.1f} MiB:", {
        step: f"{seconds[step]:.2f}s peak {peaks[step] / MIB:.1f} MiB" for step in peaks
    })  # fmt: skip

    assert (written.size, written.sha256) == (LARGE_SIZE, expected_sha256)
    assert (downloaded.size, downloaded.sha256) == (LARGE_SIZE, expected_sha256)
    assert hashlib.sha256((tmp_path / "download.bin").read_bytes()).hexdigest() == expected_sha256
    assert (streamed, digest.hexdigest()) == (LARGE_SIZE, expected_sha256)
    # Holding the object once would already cost LARGE_SIZE; streaming must stay well below.
    for step, peak in peaks.items():
        assert peak < LARGE_SIZE // 2, f"{step} peaked at {peak / MIB:.1f} MiB"


# --- storage classes ----------------------------------------------------------------------------

# A class that each backend reads directly (the local FS has none and ignores it).
DIRECT_CLASSES = {"s3": "GLACIER_IR", "gcs": "ARCHIVE", "local": "ARCHIVE"}


async def test_put_in_a_storage_class_reads_back_directly(
    store: ObjectStore, backend: str, running_stack: RunningStack
) -> None:
    chosen = DIRECT_CLASSES[backend]
    await store.put("classes/put", b"in a class", storage_class=chosen)
    assert await store.put_if_absent("classes/created", b"created in one", storage_class=chosen)
    assert await store.get("classes/put") == b"in a class"
    assert await store.get_range("classes/created", 0, 7) == b"created"
    if backend == "local":
        with pytest.raises(RestoreNotSupported):
            await store.restore_status("classes/put")
        return
    assert await provider_class(store, backend, running_stack, "classes/created") == chosen
    if backend == "s3":
        assert await store.restore_status("classes/put") is RestoreStatus.READABLE
    else:
        with pytest.raises(RestoreNotSupported):
            await store.restore("classes/put", 1)


async def test_s3_archived_object_reads_only_once_restored(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    store = open_object_store(fresh_config("s3", running_stack, tmp_path, prefix="archive"))
    assert await store.put_if_absent("pack", b"archived bytes", storage_class="GLACIER")
    for read in (lambda: store.get("pack"), lambda: store.get_range("pack", 0, 3)):
        with pytest.raises(ObjectArchived):
            await read()
    assert (await store.head("pack")).size == len(b"archived bytes")  # metadata stays readable
    assert await store.restore_status("pack") is RestoreStatus.ARCHIVED

    await store.restore("pack", 1)
    await store.restore("pack", 1)  # asked again: the request stands, no error

    assert await store.restore_status("pack") is RestoreStatus.RESTORED
    assert await store.get("pack") == b"archived bytes"


async def provider_class(
    store: ObjectStore, backend: str, running_stack: RunningStack, key: str
) -> str:
    """The storage class the provider itself reports for `key` (not our driver)."""
    url = store.describe()
    bucket, _, prefix = url.split("://", 1)[1].partition("/")
    full_key = f"{prefix}/{key}" if prefix else key
    if backend == "s3":
        client = boto3.client("s3", endpoint_url=running_stack.s3_endpoint, region_name="us-east-1")
        return str(client.head_object(Bucket=bucket, Key=full_key).get("StorageClass", "STANDARD"))
    client = open_gcs_client(url, running_stack.gcs_endpoint)
    return str(client.bucket(bucket).get_blob(full_key).storage_class)


# --- server-side encryption ----------------------------------------------------------------------


async def test_s3_objects_are_encrypted_server_side(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    config = fresh_config("s3", running_stack, tmp_path, prefix="sse")
    store = open_object_store(config)
    small = await store.put("small", b"secret")
    assert await store.put_if_absent("created", b"secret too")
    write_patterned_file(tmp_path / "multipart.bin", 17 * MIB)  # three parts of 8 MiB
    large = await store.put_file("multipart", tmp_path / "multipart.bin")
    assert (small.sse, large.sse, (await store.head("created")).sse) == ("AES256",) * 3
    # Ask S3 itself, not our driver.
    client = boto3.client("s3", endpoint_url=running_stack.s3_endpoint, region_name="us-east-1")
    for key in ("sse/small", "sse/created", "sse/multipart"):
        answer = client.head_object(Bucket=config.bucket, Key=key)
        assert answer["ServerSideEncryption"] == "AES256", key


async def test_s3_kms_encryption_names_the_key(running_stack: RunningStack, tmp_path: Path) -> None:
    key_id = "arn:aws:kms:us-east-1:123456789012:key/geoledger-test"
    config = fresh_config("s3", running_stack, tmp_path, prefix="kms").model_copy(
        update={"sse": "aws:kms", "kms_key_id": key_id}
    )
    store = open_object_store(config)
    written = await store.put("x", b"secret")
    assert await store.put_if_absent("y", b"secret")
    assert (written.sse, written.kms_key) == ("aws:kms", key_id)
    client = boto3.client("s3", endpoint_url=running_stack.s3_endpoint, region_name="us-east-1")
    for key in ("kms/x", "kms/y"):
        answer = client.head_object(Bucket=config.bucket, Key=key)
        assert (answer["ServerSideEncryption"], answer["SSEKMSKeyId"]) == ("aws:kms", key_id)


# --- errors --------------------------------------------------------------------------------------


async def test_missing_key_is_object_not_found_everywhere(
    store: ObjectStore, tmp_path: Path
) -> None:
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "get": lambda: store.get("missing/x"),
        "head": lambda: store.head("missing/x"),
        "get_range": lambda: store.get_range("missing/x", 0, 10),
        "get_to_file": lambda: store.get_to_file("missing/x", tmp_path / "never"),
        "get_stream": lambda: collect_stream(store, "missing/x"),
    }
    for name, call in calls.items():
        with pytest.raises(ObjectNotFound) as caught:
            await call()
        # The message names the store and the key.
        assert store.describe() in str(caught.value), name
        assert "missing/x" in str(caught.value), name
    assert not await store.exists("missing/x")
    assert not (tmp_path / "never").exists()


async def collect_stream(store: ObjectStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.get_stream(key)])


@pytest.mark.parametrize("key", ["", "/leading", "trailing/", "a//b", "a/../b", "./a", "a\nb"])
async def test_invalid_keys_are_refused_before_any_request(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        await store.put(key, b"x")
    with pytest.raises(InvalidKey):
        await store.get(key)


@pytest.mark.parametrize("backend_name", ["s3", "gcs"])
async def test_stopped_endpoint_is_unavailable(backend_name: str, tmp_path: Path) -> None:
    with private_emulator(backend_name, tmp_path / "emulator") as emulator:
        store = open_object_store(emulator.config, IMPATIENT)
        await store.put("x", b"reachable")
        emulator.stop()
        started = time.perf_counter()
        with pytest.raises(Unavailable) as caught:
            await store.get("x")
        elapsed = time.perf_counter() - started
        with pytest.raises(Unavailable):
            await store.put("y", b"y")
    assert store.describe() in str(caught.value)
    assert elapsed < 10, f"took {elapsed:.1f}s to give up"


async def test_local_store_without_its_root_is_unavailable(tmp_path: Path) -> None:
    root = tmp_path / "volume"
    root.mkdir()
    store = open_object_store(ObjectStoreConfig(url=f"file://{root}"))
    await store.put("x", b"x")
    shutil.rmtree(root)
    for call in (lambda: store.get("x"), lambda: store.put("x", b"y")):
        with pytest.raises(Unavailable, match="root directory"):
            await call()
    # The store never recreates its own root: that would write beside an unmounted volume.
    assert not root.exists()


async def test_s3_bucket_policy_denial_is_access_denied(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    config = fresh_config("s3", running_stack, tmp_path, prefix="guarded")
    store = open_object_store(config)
    await store.put("x", b"guarded")
    client = boto3.client("s3", endpoint_url=running_stack.s3_endpoint, region_name="us-east-1")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{config.bucket}/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket=config.bucket, Policy=json.dumps(policy))
    with pytest.raises(AccessDenied) as caught:
        await store.get("x")
    assert caught.value.key == "x"
    assert config.bucket in str(caught.value)
    with pytest.raises(AccessDenied):
        await store.get_range("x", 0, 3)


async def test_local_unwritable_root_is_access_denied(tmp_path: Path) -> None:
    root = tmp_path / "readonly"
    root.mkdir()
    store = open_object_store(ObjectStoreConfig(url=f"file://{root}"))
    await store.put("present", b"still readable")
    with unwritable_directory(root) as how:
        with pytest.raises(AccessDenied) as caught:
            await store.put("x", b"x")
        assert await store.get("present") == b"still readable", how
    assert (caught.value.key, str(root) in str(caught.value)) == ("x", True)
    # Writable again: the same call succeeds, so the refusal came from the directory.
    assert await store.put_if_absent("x", b"x") is True


def test_every_error_is_an_object_store_error() -> None:
    errors = (ObjectNotFound, PreconditionFailed, AccessDenied, Unavailable, InvalidKey)
    for error in (*errors, ObjectArchived, RestoreNotSupported):
        assert issubclass(error, ObjectStoreError)
