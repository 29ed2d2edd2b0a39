"""Errors raised by the tenant key registry. Every message says what was expected and what was
got."""

from __future__ import annotations


class KeyRegistryError(Exception):
    """Base of every error `storage.keys` raises."""


class KeyInputError(KeyRegistryError):
    """A tenant id, key id or public key is malformed; nothing was written."""


class KeyNotFoundError(KeyRegistryError):
    """No region knows the key id."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"expected a registered key id, got unknown key {key_id!r}")
        self.key_id = key_id


class KeyConflictError(KeyRegistryError):
    """The key id is already registered with another tenant or public key, or was revoked."""


class KeyRegistryUnavailableError(KeyRegistryError):
    """A region's control database could not be reached or failed. `regions` names them; an
    operation that changes keys may have completed in the other regions, and re-running it is
    safe (create and revoke are idempotent)."""

    def __init__(self, regions: dict[str, str]) -> None:
        detail = "; ".join(f"{region}: {reason}" for region, reason in sorted(regions.items()))
        super().__init__(f"key registry unavailable in {sorted(regions)}: {detail}")
        self.regions = regions


class PrivateKeyFileExistsError(KeyRegistryError):
    """The file a new private key was to be written to exists already; it was left untouched."""
