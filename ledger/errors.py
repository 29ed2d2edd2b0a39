"""Errors raised by the pure domain code. Every message says what was expected and what was got."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error `ledger/` raises."""


class ConfigError(LedgerError):
    """The configuration is missing or invalid; the message lists every bad field."""
