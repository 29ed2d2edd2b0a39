"""The processes' log output: `[logging] format = "text"` (a line for a terminal) or "json" (one
JSON object per line for a log pipeline), at `[logging] level`.

The JSON line is made by a small stdlib Formatter rather than a logging library: its shape is
fixed (ts, level, logger, message, then the labels of log_labels.py and an exception's traceback),
and the labels come from our own context variable, which a library would need a filter for anyway.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from ledger.logging_config import LoggingConfig
from storage.telemetry.log_labels import LABELS, current_labels

# The text format `geoledger worker run` has always used.
TEXT_FORMAT = "%(asctime)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts (UTC, RFC 3339 with milliseconds), level, logger, message,
    the labels that apply as strings (a label passed in `extra=` wins over the context's), and
    `exception` when the record carries one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        labels = current_labels()
        for name in LABELS:
            value = getattr(record, name, None)
            if value is None:
                value = labels.get(name)
            if value is not None:
                entry[name] = str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_formatter(config: LoggingConfig) -> logging.Formatter:
    """The formatter `config.format` names."""
    return JsonFormatter() if config.format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(config: LoggingConfig) -> None:
    """Send every record at `config.level` and above to standard error in `config.format`,
    replacing whatever handlers the root logger had."""
    handler = logging.StreamHandler()
    handler.setFormatter(log_formatter(config))
    logging.basicConfig(level=config.level, handlers=[handler], force=True)
