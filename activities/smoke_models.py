"""Typed input and result of the smoke activity."""

from __future__ import annotations

from pydantic import BaseModel


class ObjectRoundTripInput(BaseModel):
    region: str
    key: str
    size: int = 4096


class ObjectRoundTripResult(BaseModel):
    region: str
    store: str
    key: str
    bytes: int
    sha256: str
