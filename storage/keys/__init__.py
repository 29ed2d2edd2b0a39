"""The tenant key registry: public keys bound to tenants in every region's control database,
and a short-lived cache for the signature-verification hot path."""

from storage.keys.cache import DEFAULT_TTL_SECONDS, KeyCache, KeyLookup
from storage.keys.errors import (
    KeyConflictError,
    KeyInputError,
    KeyNotFoundError,
    KeyRegistryError,
    KeyRegistryUnavailableError,
    PrivateKeyFileExistsError,
)
from storage.keys.private_file import PRIVATE_MODE, NewPrivateKeyFile
from storage.keys.registry import KeyRegistry, TenantKey

__all__ = [
    "DEFAULT_TTL_SECONDS",
    "PRIVATE_MODE",
    "KeyCache",
    "KeyConflictError",
    "KeyInputError",
    "KeyLookup",
    "KeyNotFoundError",
    "KeyRegistry",
    "KeyRegistryError",
    "KeyRegistryUnavailableError",
    "NewPrivateKeyFile",
    "PrivateKeyFileExistsError",
    "TenantKey",
]
