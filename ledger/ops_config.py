"""Settings of the read-only ops API (`[ops]`, served by `geoledger ops serve`).

The operator token itself is a secret and never a setting: `token_env` names the environment
variable that holds it (ARCHITECTURE §5: secrets come from the environment, never the repo).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TOKEN_ENV = "GEOLEDGER_OPS_TOKEN"


class OpsConfig(BaseModel):
    """Where the ops API listens, where its token comes from, and how long it waits for a
    database before it reports that database unreachable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_env: str = Field(default=DEFAULT_TOKEN_ENV, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    host: str = "127.0.0.1"
    port: int = Field(default=8300, ge=1, le=65535)
    # A shard that does not answer within this is reported with its error, not waited for.
    connect_timeout_s: float = Field(default=5.0, gt=0, le=300)
