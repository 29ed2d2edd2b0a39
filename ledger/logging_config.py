"""Settings of the processes' logs: `[logging]`.

"text" is one human-readable line per record (the default, for a terminal); "json" is one JSON
object per line with `ts`, `level`, `logger` and `message`, plus the labels that apply where the
record was made (region, node, shard, tenant, workflow_id, activity), for a log pipeline.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LoggingConfig(BaseModel):
    """[logging]: read by `geoledger ingest serve` and `geoledger worker run` when they start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: LogFormat = "text"
    level: LogLevel = "INFO"
