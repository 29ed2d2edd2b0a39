"""Errors of the geo-divergence check's I/O. Every message says what was expected and what was
got. Input the check cannot use raises `ledger.errors.GeoInputError`, before any I/O."""

from __future__ import annotations


class GeoError(Exception):
    """Base of every error `storage.geo` raises about what it read or wrote."""


class GeoReportError(GeoError):
    """A stored part of a divergence report is missing or is not the JSON the check wrote."""
