"""Where a cold body is: the pack that holds it and the bytes of its blob there (ARCHITECTURE §3
"Tiering"). One type for the tiering storage code, the location table and workflow payloads.

A cold read is one range GET of `offset .. offset + length` in the pack, whose bytes must hash
to `sha256` before anything decodes them (I5). Pack ids are content addresses: the first 16 bytes
of the SHA-256 of the pack object's bytes, in hex, so two different packs never share an id.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ledger.content_id import CONTENT_ID_PATTERN, is_content_id

PackId = Annotated[str, Field(pattern=rf"^{CONTENT_ID_PATTERN}$")]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def check_pack_id(value: str) -> None:
    """Require 32 lowercase hex characters; raise ValueError otherwise."""
    if not is_content_id(value):
        raise ValueError(f"expected a pack id of 32 lowercase hex characters, got {value!r}")


class ColdLocation(BaseModel):
    """The blob of one cold body: `length` bytes at `offset` in pack `pack_id`, hashing to
    `sha256` (hex SHA-256 of the stored blob bytes, before any decoding).

    Requires a 32-hex-char pack id, offset >= 0, length >= 1 (a codec blob always has its header
    byte) and a 64-hex-char sha256, all lowercase; anything else raises a pydantic
    ValidationError (a ValueError) naming the field. Strict: no string-to-int coercion.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    pack_id: PackId
    offset: Annotated[int, Field(ge=0)]
    length: Annotated[int, Field(ge=1)]
    sha256: Sha256Hex

    @property
    def end(self) -> int:
        """The offset just past the blob: the exclusive end of its range GET."""
        return self.offset + self.length
