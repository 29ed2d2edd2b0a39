"""Errors of the ops API, each mapped to one HTTP answer by the app's exception handler."""

from __future__ import annotations


class OpsError(Exception):
    """Base of every error the ops API raises: `status` and `code` are its HTTP answer."""

    status = 500
    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OperatorTokenMissing(OpsError):
    """No operator token is configured: the API answers nobody rather than everybody."""

    status = 503
    code = "token_not_configured"


class OperatorUnauthorized(OpsError):
    """The request carries no bearer token, or not the operator's."""

    status = 401
    code = "unauthorized"


class MigrationNotFound(OpsError):
    """No region's routing table names the migration id."""

    status = 404
    code = "not_found"

    def __init__(self, migration_id: str) -> None:
        super().__init__(f"no migration {migration_id!r} in any region's routing table")
        self.migration_id = migration_id


class RegionsUnavailable(OpsError):
    """What was asked for cannot be answered because a region's databases could not be read."""

    status = 503
    code = "unavailable"
