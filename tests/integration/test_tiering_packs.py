"""Cold packs on the real embedded stores: S3 on moto and GCS on fake-gcs-server, each a fresh
bucket for this module. Every body of a written pack reads back by its own range GET, a retried
write succeeds, and a damaged, shortened or missing pack is named as such, never read as bodies.

The format itself (layout, every corruption case) is in tests/unit/test_tiering_pack_format.py.
"""

from __future__ import annotations

import random
import re
import uuid

import pytest

from storage.objectstore import ObjectStore
from storage.tiering.pack_errors import (
    PackHashMismatch,
    PackNotFound,
    PackTruncated,
)
from storage.tiering.pack_reader import read_blob, read_index
from storage.tiering.packs import BuiltPack, PackBuilder, pack_key, write_pack
from tests.conftest import RunningStack
from tests.integration.objectstore_support import open_fresh_store

pytestmark = pytest.mark.timeout(120)

BODIES = 300
LARGEST_BLOB = 8000


@pytest.fixture(scope="module", params=["s3", "gcs"])
def store(
    request: pytest.FixtureRequest,
    running_stack: RunningStack,
    tmp_path_factory: pytest.TempPathFactory,
) -> ObjectStore:
    return open_fresh_store(str(request.param), running_stack, tmp_path_factory.mktemp("packs"))


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own, so no two tests share a pack key."""
    return f"t-{uuid.uuid4().hex[:12]}"


def blobs(seed: int) -> dict[str, bytes]:
    """BODIES blobs of 1..LARGEST_BLOB bytes, different for every seed."""
    rng = random.Random(seed)
    return {
        f"evt-{number:04d}": rng.randbytes(rng.randint(1, LARGEST_BLOB)) for number in range(BODIES)
    }


def build(tenant: str, contents: dict[str, bytes]) -> BuiltPack:
    builder = PackBuilder(tenant)
    for event_id, blob in contents.items():
        builder.add(tenant, event_id, blob)
    return builder.finish()


async def test_every_body_reads_back_by_its_own_range(store: ObjectStore, tenant: str) -> None:
    contents = blobs(seed=1)
    built = build(tenant, contents)
    assert await write_pack(store, tenant, built) is True
    for entry in built.entries:
        assert await read_blob(store, tenant, entry.location) == contents[entry.event_id]
    assert await read_index(store, tenant, built.pack_id) == built.entries
    assert (await store.head(pack_key(tenant, built.pack_id))).size == len(built.data)


async def test_a_retried_write_finds_its_pack(store: ObjectStore, tenant: str) -> None:
    built = build(tenant, blobs(seed=2))
    assert await write_pack(store, tenant, built) is True
    again = build(tenant, blobs(seed=2))
    assert again.pack_id == built.pack_id
    assert await write_pack(store, tenant, again) is False
    keys = [info.key async for info in store.list(prefix=f"tiering/packs/{tenant}/")]
    assert keys == [f"tiering/packs/{tenant}/{built.pack_id}.pack"]


async def test_a_damaged_pack_is_detected_by_every_reader_and_the_writer(
    store: ObjectStore, tenant: str
) -> None:
    built = build(tenant, blobs(seed=3))
    await write_pack(store, tenant, built)
    first, last = built.entries[0].location, built.entries[-1].location
    # One flipped byte in the first blob and one in the index (just past the last blob).
    damaged = bytearray(built.data)
    damaged[first.offset] ^= 0x01
    damaged[last.end] ^= 0x01
    await store.put(pack_key(tenant, built.pack_id), bytes(damaged))
    with pytest.raises(PackHashMismatch, match=f"blob at {first.offset} length {first.length}"):
        await read_blob(store, tenant, first)
    assert await read_blob(store, tenant, last) == blobs(seed=3)["evt-0299"]
    with pytest.raises(PackHashMismatch, match="index: expected sha256"):
        await read_index(store, tenant, built.pack_id)
    with pytest.raises(PackHashMismatch, match="stored pack: expected sha256"):
        await write_pack(store, tenant, built)


async def test_a_shortened_pack_is_a_short_read(store: ObjectStore, tenant: str) -> None:
    built = build(tenant, blobs(seed=4))
    await write_pack(store, tenant, built)
    middle = built.entries[BODIES // 2].location
    # Cut inside the middle blob: it reads short, every blob after it is past the end.
    await store.put(pack_key(tenant, built.pack_id), built.data[: middle.offset + 1])
    with pytest.raises(PackTruncated, match="the object ends after 1 of its bytes"):
        await read_blob(store, tenant, middle)
    with pytest.raises(PackTruncated, match="the object ends after 0 of its bytes"):
        await read_blob(store, tenant, built.entries[-1].location)
    with pytest.raises(PackTruncated, match="starts as a pack"):
        await read_index(store, tenant, built.pack_id)


async def test_a_missing_pack_is_named_as_missing(store: ObjectStore, tenant: str) -> None:
    built = build(tenant, blobs(seed=5))
    with pytest.raises(
        PackNotFound, match=re.escape(f"{store.describe()} key 'tiering/packs/{tenant}/")
    ):
        await read_blob(store, tenant, built.entries[0].location)
    with pytest.raises(PackNotFound, match="no object under the pack's key"):
        await read_index(store, tenant, built.pack_id)
