"""The operator token: read from the environment variable the settings name, compared in
constant time (hmac.compare_digest), and required by every route of the ops API."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.ops.errors import OperatorTokenMissing, OperatorUnauthorized


@dataclass(frozen=True)
class OperatorToken:
    """The token operators present, and the environment variable it came from (for messages).
    `value` None: none configured, so every request is refused."""

    env_var: str
    value: str | None

    @classmethod
    def from_environment(cls, env_var: str, environ: Mapping[str, str]) -> OperatorToken:
        """The token in `environ[env_var]`; an empty value counts as none."""
        return cls(env_var, environ.get(env_var) or None)

    def check(self, presented: str | None) -> None:
        """Raise OperatorTokenMissing when no token is configured, OperatorUnauthorized when
        `presented` is absent or differs (compared in constant time)."""
        if self.value is None:
            raise OperatorTokenMissing(
                f"the ops API has no operator token: set the environment variable "
                f"{self.env_var} (see [ops] token_env) and restart it"
            )
        if presented is None or not hmac.compare_digest(
            presented.encode("utf-8"), self.value.encode("utf-8")
        ):
            raise OperatorUnauthorized("expected the operator token as Authorization: Bearer")


_bearer = HTTPBearer(auto_error=False, description="The operator token ([ops] token_env).")


def require_operator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The dependency every ops route has: the request carries the operator token."""
    token: OperatorToken = request.app.state.operator_token
    token.check(None if credentials is None else credentials.credentials)
