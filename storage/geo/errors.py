"""Errors of the geo-divergence check. Every message says what was expected and what was got."""

from __future__ import annotations


class GeoError(Exception):
    """Base of every error `storage.geo` raises."""


class GeoInputError(GeoError):
    """A range, stream name or bucket count handed to the check is not one it can use; nothing was
    read or written."""


class GeoReportError(GeoError):
    """A stored part of a divergence report is missing or is not the JSON the check wrote."""
