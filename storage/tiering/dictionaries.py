"""Per-tenant zstd dictionaries: trained from a sample of a tenant's bodies, addressed by content,
stored versioned in the region's object store and loaded back only when their bytes still hash to
their id (I5).

A dictionary's id is the first DICT_ID_BYTES bytes of the SHA-256 of its bytes, in hex; its object
is `tiering/dicts/<tenant>/<dict_id>.zdict`. Each training makes a new version under a new id and
never replaces an old one, so a body compressed with any of them stays readable.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import zstandard

from ledger.content_id import CONTENT_ID_BYTES, content_id, is_content_id
from ledger.envelope import check_tenant_id
from storage.objectstore import ObjectNotFound, ObjectStore
from storage.tiering.errors import (
    DictionaryIntegrityError,
    DictionaryNotFoundError,
    DictionaryTrainingError,
    TieringInputError,
)

# The codec's header carries a dictionary's id raw, in this many bytes.
DICT_ID_BYTES = CONTENT_ID_BYTES
DICTIONARY_PREFIX = "tiering/dicts"


def dictionary_id(data: bytes) -> str:
    """The id of a dictionary of bytes `data`: their content id (ledger/content_id.py)."""
    return content_id(data)


def dictionary_key(tenant: str, dict_id: str) -> str:
    """The object key of a tenant's dictionary, relative to the store's prefix.

    Requires a ledger tenant id and a content id (32 lowercase hex characters); raises
    TieringInputError otherwise.
    """
    try:
        check_tenant_id(tenant)
    except ValueError as exc:
        raise TieringInputError(f"tenant id: {exc}") from None
    if not is_content_id(dict_id):
        raise TieringInputError(
            f"expected a dictionary id of {2 * DICT_ID_BYTES} lowercase hex characters, "
            f"got {dict_id!r}"
        )
    return f"{DICTIONARY_PREFIX}/{tenant}/{dict_id}.zdict"


@dataclass(frozen=True)
class Dictionary:
    """A zstd dictionary's bytes with their content id, ready for zstd to use."""

    dict_id: str
    data: bytes = field(repr=False)
    zstd: zstandard.ZstdCompressionDict = field(repr=False, compare=False)

    @classmethod
    def from_bytes(cls, data: bytes) -> Dictionary:
        """The dictionary whose bytes are `data`, its id computed from them."""
        return cls(dictionary_id(data), data, zstandard.ZstdCompressionDict(data))


def train_dictionary(samples: Sequence[bytes], dict_size: int) -> Dictionary:
    """Train a dictionary of at most `dict_size` bytes from `samples` (bodies of one tenant).

    Raises DictionaryTrainingError, naming the sample's count and bytes, when zstd cannot train
    one from them: too few bodies, too few bytes, or a size below zstd's minimum.
    """
    sample_bytes = sum(len(sample) for sample in samples)
    try:
        trained = zstandard.train_dictionary(dict_size, list(samples))
    except zstandard.ZstdError as exc:
        raise DictionaryTrainingError(len(samples), sample_bytes, dict_size, str(exc)) from None
    return Dictionary.from_bytes(trained.as_bytes())


class DictionaryStore:
    """Tenants' dictionaries in one object store, with the `cache_size` most recently used ones
    kept in memory (their ids are content addresses, so a cached copy never goes stale)."""

    def __init__(self, store: ObjectStore, cache_size: int) -> None:
        if cache_size < 1:
            raise ValueError(f"expected a cache of at least 1 dictionary, got {cache_size}")
        self._store = store
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], Dictionary] = OrderedDict()

    async def save(self, tenant: str, dictionary: Dictionary) -> bool:
        """Store `dictionary` for `tenant` unless it is stored already: True when this call wrote
        it, False when the store held it (a retried save finds its own object).

        Raises DictionaryIntegrityError when the object at its key holds other bytes.
        """
        key = dictionary_key(tenant, dictionary.dict_id)
        created = await self._store.put_if_absent(key, dictionary.data)
        if not created:
            # Content addressing: an object already there must be these very bytes.
            await self._fetch_verified(tenant, dictionary.dict_id)
        self._remember((tenant, dictionary.dict_id), dictionary)
        return created

    async def load(self, tenant: str, dict_id: str) -> Dictionary:
        """The tenant's dictionary `dict_id`, from the cache or from the store.

        Raises DictionaryNotFoundError when the store has none, DictionaryIntegrityError when
        its bytes do not hash to `dict_id`, and the store's own errors (Unavailable ...) as they
        come.
        """
        cached = self._cache.get((tenant, dict_id))
        if cached is not None:
            self._cache.move_to_end((tenant, dict_id))
            return cached
        dictionary = await self._fetch_verified(tenant, dict_id)
        self._remember((tenant, dict_id), dictionary)
        return dictionary

    async def _fetch_verified(self, tenant: str, dict_id: str) -> Dictionary:
        key = dictionary_key(tenant, dict_id)
        try:
            data = await self._store.get(key)
        except ObjectNotFound:
            raise DictionaryNotFoundError(self._store.describe(), tenant, dict_id) from None
        # Verified before use (I5): the bytes must be the ones the id was computed from.
        got_id = dictionary_id(data)
        if got_id != dict_id:
            raise DictionaryIntegrityError(self._store.describe(), key, dict_id, got_id)
        return Dictionary(dict_id, data, zstandard.ZstdCompressionDict(data))

    def _remember(self, cache_key: tuple[str, str], dictionary: Dictionary) -> None:
        self._cache[cache_key] = dictionary
        self._cache.move_to_end(cache_key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
