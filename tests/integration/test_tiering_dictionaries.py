"""Tenants' zstd dictionaries in the region's object store (storage/tiering/dictionaries.py), on
S3 (the real moto server) and GCS (the real fake-gcs-server): stored once under their content
address, loaded back only while their bytes still hash to that address, cached in memory."""

from __future__ import annotations

import pytest

from storage.objectstore import ObjectStore
from storage.tiering.codec import decode, encode, required_dictionary
from storage.tiering.dictionaries import (
    Dictionary,
    DictionaryStore,
    dictionary_key,
    train_dictionary,
)
from storage.tiering.errors import (
    DictionaryIntegrityError,
    DictionaryNotFoundError,
    TieringInputError,
)
from tests.conftest import RunningStack
from tests.integration.objectstore_support import open_fresh_store
from tests.unit.test_tiering_codec import sample_bodies

pytestmark = pytest.mark.timeout(120)

TENANT = "acme"
DICT_SIZE = 4096
CACHE_SIZE = 4
MAX_BODY = 1024 * 1024


@pytest.fixture(scope="module", params=["s3", "gcs"])
def store(
    request: pytest.FixtureRequest,
    running_stack: RunningStack,
    tmp_path_factory: pytest.TempPathFactory,
) -> ObjectStore:
    return open_fresh_store(str(request.param), running_stack, tmp_path_factory.mktemp("dicts"))


def trained(seed: int) -> Dictionary:
    return train_dictionary(sample_bodies(200, seed=seed, tenant=TENANT), DICT_SIZE)


async def test_saved_dictionary_is_stored_under_its_content_address(store: ObjectStore) -> None:
    dictionary = trained(seed=11)

    assert await DictionaryStore(store, CACHE_SIZE).save(TENANT, dictionary)

    key = f"tiering/dicts/{TENANT}/{dictionary.dict_id}.zdict"
    assert dictionary_key(TENANT, dictionary.dict_id) == key
    assert await store.get(key) == dictionary.data


async def test_a_retried_save_finds_its_object(store: ObjectStore) -> None:
    dictionary = trained(seed=12)
    assert await DictionaryStore(store, CACHE_SIZE).save(TENANT, dictionary)
    assert not await DictionaryStore(store, CACHE_SIZE).save(TENANT, dictionary)


async def test_body_compressed_with_a_stored_dictionary_decodes_after_loading_it(
    store: ObjectStore,
) -> None:
    dictionary = trained(seed=13)
    await DictionaryStore(store, CACHE_SIZE).save(TENANT, dictionary)
    body = sample_bodies(1, seed=14, tenant=TENANT)[0]
    blob = encode(body, 3, dictionary).blob

    # A reader of its own, with nothing cached: the dictionary comes from the store.
    needed = required_dictionary(blob)
    assert needed == dictionary.dict_id
    loaded = await DictionaryStore(store, CACHE_SIZE).load(TENANT, needed)

    assert loaded.data == dictionary.data
    assert decode(blob, {loaded.dict_id: loaded}, MAX_BODY) == body


async def test_tampered_dictionary_is_refused(store: ObjectStore) -> None:
    dictionary = trained(seed=15)
    await DictionaryStore(store, CACHE_SIZE).save(TENANT, dictionary)
    key = dictionary_key(TENANT, dictionary.dict_id)
    tampered = bytearray(dictionary.data)
    tampered[len(tampered) // 2] ^= 0x01
    await store.put(key, bytes(tampered))

    with pytest.raises(DictionaryIntegrityError) as raised:
        await DictionaryStore(store, CACHE_SIZE).load(TENANT, dictionary.dict_id)
    assert (raised.value.key, raised.value.expected_id) == (key, dictionary.dict_id)
    # Saving the genuine bytes again does not paper over the altered object either.
    with pytest.raises(DictionaryIntegrityError):
        await DictionaryStore(store, CACHE_SIZE).save(TENANT, dictionary)


async def test_dictionary_of_another_tenant_or_never_stored_is_not_found(
    store: ObjectStore,
) -> None:
    dictionary = trained(seed=16)
    dictionaries = DictionaryStore(store, CACHE_SIZE)
    await dictionaries.save(TENANT, dictionary)

    with pytest.raises(DictionaryNotFoundError):
        await dictionaries.load("globex", dictionary.dict_id)
    with pytest.raises(DictionaryNotFoundError):
        await dictionaries.load(TENANT, "0" * 32)


@pytest.mark.parametrize(
    ("tenant", "dict_id"),
    [("Acme", "0" * 32), ("../acme", "0" * 32), (TENANT, "0" * 31), (TENANT, "A" * 32)],
    ids=["upper-case-tenant", "dotted-tenant", "short-id", "upper-case-id"],
)
async def test_malformed_tenant_or_id_reads_nothing(
    store: ObjectStore, tenant: str, dict_id: str
) -> None:
    with pytest.raises(TieringInputError):
        await DictionaryStore(store, CACHE_SIZE).load(tenant, dict_id)


async def test_loaded_dictionaries_are_cached_up_to_the_cache_size(store: ObjectStore) -> None:
    first, second = trained(seed=17), trained(seed=18)
    await DictionaryStore(store, 1).save(TENANT, first)
    await DictionaryStore(store, 1).save(TENANT, second)
    dictionaries = DictionaryStore(store, 1)
    await dictionaries.load(TENANT, first.dict_id)

    # Served from memory once loaded: the store is not asked again.
    await store.delete(dictionary_key(TENANT, first.dict_id))
    assert (await dictionaries.load(TENANT, first.dict_id)).data == first.data

    # A cache of one keeps only the last dictionary loaded.
    await dictionaries.load(TENANT, second.dict_id)
    with pytest.raises(DictionaryNotFoundError):
        await dictionaries.load(TENANT, first.dict_id)
