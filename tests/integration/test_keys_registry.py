"""The tenant key registry against every region's real control database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from ledger.config import RegionConfig, Settings
from ledger.keys import generate_private_key, key_id_for, public_key_bytes
from storage.dedup import migrate_region
from storage.embedded.process import free_port
from storage.keys import (
    KeyCache,
    KeyConflictError,
    KeyInputError,
    KeyNotFoundError,
    KeyRegistry,
    KeyRegistryUnavailableError,
)
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region

pytestmark = pytest.mark.timeout(120)


async def fresh_settings(running_stack: RunningStack, prefix: str) -> Settings:
    """The session's settings with both regions on new, migrated databases."""
    us, eu = await asyncio.gather(
        fresh_region(running_stack, f"{prefix}_us", shards=1),
        fresh_region(running_stack, f"{prefix}_eu", shards=1),
    )
    await asyncio.gather(migrate_region(us), migrate_region(eu))
    return running_stack.settings.model_copy(update={"regions": {"us": us, "eu": eu}})


@pytest.fixture(scope="module")
async def settings_keys(running_stack: RunningStack) -> Settings:
    return await fresh_settings(running_stack, "keys")


@pytest.fixture
async def registry(settings_keys: Settings) -> AsyncIterator[KeyRegistry]:
    async with await KeyRegistry.open(settings_keys) as registry:
        yield registry


async def rows(region: RegionConfig, key_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(region.control_dsn)
    try:
        return await conn.fetch("SELECT * FROM tenant_keys WHERE key_id = $1", key_id)
    finally:
        await conn.close()


async def test_create_registers_only_the_public_key_in_every_region(
    registry: KeyRegistry, settings_keys: Settings
) -> None:
    public_key = generate_private_key().public_key()

    key = await registry.create("acme", public_key)

    assert key.key_id == key_id_for(public_key)
    assert (key.tenant_id, key.public_key, key.revoked) == (
        "acme",
        public_key_bytes(public_key),
        False,
    )
    assert key.regions == ("us", "eu")
    for region in settings_keys.regions.values():
        [row] = await rows(region, key.key_id)
        assert set(row.keys()) == {"key_id", "tenant_id", "public_key", "created_at", "revoked_at"}
        assert (row["tenant_id"], bytes(row["public_key"])) == ("acme", key.public_key)


async def test_create_is_idempotent(registry: KeyRegistry, settings_keys: Settings) -> None:
    public_key = generate_private_key().public_key()
    first = await registry.create("acme", public_key)
    second = await registry.create("acme", public_key_bytes(public_key))
    assert second == first
    assert len(await rows(settings_keys.region("eu"), first.key_id)) == 1


async def test_a_key_id_is_bound_to_one_tenant(registry: KeyRegistry) -> None:
    public_key = generate_private_key().public_key()
    key = await registry.create("acme", public_key)

    with pytest.raises(KeyConflictError, match=r"bound to tenant 'acme'.*not to 'globex'"):
        await registry.create("globex", public_key)
    other = generate_private_key().public_key()
    with pytest.raises(KeyConflictError, match="another public key"):
        await registry.create("acme", other, key_id=key.key_id)

    found = await registry.get(key.key_id)
    assert found is not None and found.tenant_id == "acme"  # callers reject other tenants' events
    assert await registry.get("ed25519:0000000000000000") is None


async def test_revoke_everywhere_keeps_the_first_time_and_bars_reuse(
    registry: KeyRegistry, settings_keys: Settings
) -> None:
    public_key = generate_private_key().public_key()
    key = await registry.create("acme", public_key)

    revoked = await registry.revoke(key.key_id)
    again = await registry.revoke(key.key_id)

    assert revoked.revoked_at is not None and again.revoked_at == revoked.revoked_at
    assert revoked.regions == ("us", "eu")
    for region in settings_keys.regions.values():
        [row] = await rows(region, key.key_id)
        assert row["revoked_at"] is not None
    found = await registry.get(key.key_id)
    assert found is not None and found.revoked
    with pytest.raises(KeyConflictError, match="was revoked"):
        await registry.create("acme", public_key)


async def test_revoking_an_unknown_key_is_an_error(registry: KeyRegistry) -> None:
    with pytest.raises(KeyNotFoundError, match="unknown key 'ed25519:ffffffffffffffff'"):
        await registry.revoke("ed25519:ffffffffffffffff")


@pytest.mark.parametrize(
    ("tenant", "public_key", "key_id", "message"),
    [
        ("Acme", b"\x01" * 32, None, "tenant id"),
        ("acme", b"\x01" * 31, None, "expected 32 raw Ed25519 bytes, got 31"),
        ("acme", None, "bad key id!", "key id"),
    ],
)
async def test_malformed_input_writes_nothing(
    registry: KeyRegistry,
    tenant: str,
    public_key: bytes | None,
    key_id: str | None,
    message: str,
) -> None:
    key = public_key if public_key is not None else generate_private_key().public_key()
    before = await registry.list()
    with pytest.raises(KeyInputError, match=message):
        await registry.create(tenant, key, key_id=key_id)
    assert await registry.list() == before


async def test_list_merges_regions_and_filters_by_tenant(settings_keys: Settings) -> None:
    async with await KeyRegistry.open(settings_keys, regions=["us"]) as us_only:
        partial = await us_only.create("initech", generate_private_key().public_key())
    async with await KeyRegistry.open(settings_keys) as both:
        full = await both.create("initech", generate_private_key().public_key())
        await both.create("umbrella", generate_private_key().public_key())

        listed = await both.list("initech")

    assert {k.key_id: k.regions for k in listed} == {
        partial.key_id: ("us",),
        full.key_id: ("us", "eu"),
    }
    assert [k.key_id for k in listed] == sorted(k.key_id for k in listed)


async def test_an_unreachable_region_is_named(settings_keys: Settings) -> None:
    dead = settings_keys.region("eu").model_copy(
        update={"control_dsn": f"postgresql://postgres@127.0.0.1:{free_port()}/gone"}
    )
    broken = settings_keys.model_copy(
        update={"regions": {"us": settings_keys.region("us"), "eu": dead}}
    )
    with pytest.raises(KeyRegistryUnavailableError, match=r"\['eu'\]") as raised:
        await KeyRegistry.open(broken)
    assert set(raised.value.regions) == {"eu"}


async def test_an_unmigrated_region_says_what_to_run(running_stack: RunningStack) -> None:
    bare = await fresh_region(running_stack, "keys_bare", shards=1)
    settings = running_stack.settings.model_copy(update={"regions": {"us": bare}})
    async with await KeyRegistry.open(settings) as registry:
        with pytest.raises(KeyRegistryUnavailableError, match="run `geoledger db migrate`"):
            await registry.get("ed25519:0123456789abcdef")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_cache_sees_a_revocation_within_its_ttl(registry: KeyRegistry) -> None:
    clock = Clock()
    cache = KeyCache(registry, ttl_seconds=2.0, clock=clock)
    key = await registry.create("acme", generate_private_key().public_key())
    assert (await cache.get(key.key_id)) == await registry.get(key.key_id)

    await registry.revoke(key.key_id)
    clock.now += 1.9
    cached = await cache.get(key.key_id)
    assert cached is not None and not cached.revoked  # stale, but within the documented bound
    clock.now += 0.2
    fresh = await cache.get(key.key_id)
    assert fresh is not None and fresh.revoked
