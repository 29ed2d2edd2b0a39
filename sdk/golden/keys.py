"""The fixed test keys that sign the vectors' cases.

seed = SHA-256(b"geoledger-golden-key-<n>"); the PEM is what `geoledger keys create` writes.
These keys are public test data and must never sign real events.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from golden.types import Json
from ledger.keys import key_id_for, private_key_from_seed, private_key_to_pem, public_key_to_b64

KEY_NAMES = ("key-1", "key-2", "key-3")


def golden_key(name: str) -> Ed25519PrivateKey:
    """The private key named `name` (one of KEY_NAMES), derived from its published seed."""
    return private_key_from_seed(_seed(name))


def key_entry(name: str) -> Json:
    """The vectors file's description of one key: seed, PKCS8 PEM, public key and key id."""
    key = golden_key(name)
    public = key.public_key()
    return {
        "name": name,
        "seed_recipe": f'sha256(b"geoledger-golden-{name}")',
        "seed_hex": _seed(name).hex(),
        "private_key_pem": private_key_to_pem(key).decode("ascii"),
        "public_key": public_key_to_b64(public),
        "key_id": key_id_for(public),
    }


def _seed(name: str) -> bytes:
    return hashlib.sha256(f"geoledger-golden-{name}".encode()).digest()
