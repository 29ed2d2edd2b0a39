"""CRR segment manifests: the signed, hash-chained commit marker of one shipped WAL segment.

A manifest is the RFC 8785 form of its fields plus `signature`, an Ed25519 signature (RFC 8032) by
the shipping region's key over `b"geoledger.manifest.v1\\x00" + JCS(fields without signature)`.
Each manifest names the SHA-256 of the previous manifest's bytes (`prev_manifest_sha256`, empty for
a stream's first), so a replayer that verifies the chain detects a removed, reordered or replaced
manifest (I5).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.canonical import b64url_decode_exact, b64url_encode, canonical_bytes
from ledger.envelope import SIGNATURE_BYTES
from ledger.errors import CanonicalFormError, ManifestError
from ledger.stream_id import NAME_PATTERN, StreamId

MANIFEST_DOMAIN = b"geoledger.manifest.v1\x00"
MANIFEST_VERSION = 1
_HEX64 = r"^[0-9a-f]{64}$"
_NAME = rf"^{NAME_PATTERN}$"


class ManifestFields(BaseModel):
    """Everything a manifest states about its segment, before signing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: int = MANIFEST_VERSION
    region: str = Field(pattern=_NAME)
    node: str = Field(pattern=_NAME)
    segment: str  # object key of the compressed segment, relative to the store's prefix
    first_seq: int = Field(ge=1)
    last_seq: int = Field(ge=1)
    records: int = Field(ge=1)
    raw_bytes: int = Field(ge=0)
    raw_sha256: str = Field(pattern=_HEX64)
    compressed_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=_HEX64)  # of the compressed object, as stored
    codec: str  # "zstd"
    sealed_at_ms: int = Field(ge=0)
    shipped_at_ms: int = Field(ge=0)
    prev_manifest_sha256: str = Field(pattern=r"^([0-9a-f]{64})?$")

    @property
    def stream(self) -> StreamId:
        return StreamId(self.region, self.node)


class Manifest(ManifestFields):
    signature: str


def signing_input(fields: ManifestFields) -> bytes:
    """MANIFEST_DOMAIN + RFC 8785 form of the unsigned fields (RFC 8032 §5.1.6 message)."""
    return MANIFEST_DOMAIN + canonical_bytes(_unsigned(fields))


def sign_manifest(private_key: Ed25519PrivateKey, fields: ManifestFields) -> Manifest:
    """Requires fields.records == last_seq - first_seq + 1 (a gap-free segment)."""
    if fields.records != fields.last_seq - fields.first_seq + 1:
        raise ManifestError(
            f"expected records == last_seq - first_seq + 1 = "
            f"{fields.last_seq - fields.first_seq + 1}, got {fields.records}"
        )
    signature = b64url_encode(private_key.sign(signing_input(fields)))
    return Manifest(**_unsigned(fields), signature=signature)


def manifest_bytes(manifest: Manifest) -> bytes:
    """The stored form: RFC 8785 JSON of every field including the signature."""
    return canonical_bytes(manifest.model_dump())


def manifest_sha256(manifest: Manifest) -> str:
    """Hex SHA-256 of the stored form: what the next manifest's `prev_manifest_sha256` names."""
    return hashlib.sha256(manifest_bytes(manifest)).hexdigest()


def parse_manifest(data: bytes) -> Manifest:
    """Parse stored manifest bytes. Raises ManifestError unless they are exactly the canonical
    form of a well-formed manifest (so its hash is the one the chain names)."""
    try:
        manifest = Manifest.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:
        raise ManifestError(f"not a well-formed manifest: {exc}") from None
    try:
        canonical = manifest_bytes(manifest)
    except CanonicalFormError as exc:  # an integer beyond 2**53 - 1 has no RFC 8785 form
        raise ManifestError(f"not a well-formed manifest: {exc}") from None
    if canonical != data:
        raise ManifestError("manifest bytes are not in canonical form")
    return manifest


def verify_manifest(public_key: Ed25519PublicKey, manifest: Manifest) -> bool:
    """True when the signature is a valid RFC 8032 §5.1.7 signature by `public_key`."""
    try:
        signature = b64url_decode_exact(manifest.signature, SIGNATURE_BYTES)
        public_key.verify(signature, signing_input(manifest))
    except (CanonicalFormError, InvalidSignature):
        return False
    return True


def _unsigned(fields: ManifestFields) -> dict[str, Any]:
    return fields.model_dump(include=set(ManifestFields.model_fields))
