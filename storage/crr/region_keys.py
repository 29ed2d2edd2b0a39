"""A region's manifest-signing key pair, from its configuration."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.config import RegionConfig
from ledger.keys import (
    generate_private_key,
    private_key_from_pem,
    private_key_to_pem,
    public_key_from_b64,
)
from storage.crr.errors import CrrError
from storage.keys import NewPrivateKeyFile, PrivateKeyFileExistsError


def signing_key(region_name: str, region: RegionConfig) -> Ed25519PrivateKey:
    """The region's manifest-signing private key, read from its `signing_key_file`.

    Raises CrrError when the file is not configured or does not exist.
    """
    if region.signing_key_file is None:
        raise CrrError(f"regions.{region_name}.signing_key_file is not set: cannot sign manifests")
    try:
        return private_key_from_pem(Path(region.signing_key_file).read_bytes())
    except FileNotFoundError:
        raise CrrError(
            f"regions.{region_name}.signing_key_file {region.signing_key_file} does not exist"
        ) from None


def manifest_public_key(region_name: str, region: RegionConfig) -> Ed25519PublicKey:
    """The key other regions verify this region's manifests with."""
    if region.manifest_public_key:
        return public_key_from_b64(region.manifest_public_key)
    return signing_key(region_name, region).public_key()


def ensure_signing_key_file(path: Path) -> bool:
    """Create a new private key at `path` (mode 0600 from the start) unless one exists; True when
    created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        claim = NewPrivateKeyFile(path)
    except PrivateKeyFileExistsError:
        return False
    with claim:
        claim.write(private_key_to_pem(generate_private_key()))
    return True
