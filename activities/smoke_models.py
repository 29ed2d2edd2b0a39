"""Typed input and result of the smoke activity."""

from __future__ import annotations

from pydantic import BaseModel


class ObjectRoundTripInput(BaseModel):
    """Input of `smoke_object_round_trip`: write `size` bytes under `key` in `region`'s store and
    read them back."""

    region: str
    key: str
    size: int = 4096


class ObjectRoundTripResult(BaseModel):
    """A round trip that succeeded: the store and key written, and the bytes' size and SHA-256."""

    region: str
    store: str
    key: str
    bytes: int
    sha256: str
