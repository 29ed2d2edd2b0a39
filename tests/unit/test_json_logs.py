"""The JSON log line: one object per record whatever the message holds, the labels of the block
it was made in (an `extra=` label winning), nested blocks undone on exit, tracebacks kept."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from ledger.logging_config import LoggingConfig
from storage.telemetry.json_logs import log_formatter
from storage.telemetry.log_labels import current_labels, log_labels

FORMATTER = log_formatter(LoggingConfig(format="json"))


def line(message: str, *args: Any, **fields: Any) -> dict[str, Any]:
    record = logging.getLogger("geoledger.test").makeRecord(
        "geoledger.test", logging.WARNING, __file__, 1, message, args, None, **fields
    )
    text = FORMATTER.format(record)
    assert "\n" not in text
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def test_a_line_carries_the_labels_of_its_block_and_extra_ones_win() -> None:
    with log_labels(region="us", tenant="acme"), log_labels(node="n1", shard=3):
        entry = line("two\nlines: %s", "x", extra={"region": "eu"})
    assert {k: v for k, v in entry.items() if k != "ts"} == {
        "level": "WARNING",
        "logger": "geoledger.test",
        "message": "two\nlines: x",
        "region": "eu",
        "node": "n1",
        "shard": "3",
        "tenant": "acme",
    }
    assert entry["ts"].endswith("+00:00")
    assert dict(current_labels()) == {}


def test_an_exception_keeps_its_traceback_and_labels_are_undone_after_one() -> None:
    with pytest.raises(ValueError), log_labels(workflow_id="w-1"):
        try:
            raise ValueError("boom")
        except ValueError as exc:
            record = logging.getLogger("t").makeRecord(
                "t", logging.ERROR, __file__, 1, "failed", (), (type(exc), exc, exc.__traceback__)
            )
            entry = json.loads(FORMATTER.format(record))
            raise
    assert entry["workflow_id"] == "w-1"
    assert "ValueError: boom" in entry["exception"]
    assert dict(current_labels()) == {}


def test_text_is_the_default_format() -> None:
    assert (
        not log_formatter(LoggingConfig())
        .format(logging.makeLogRecord({"msg": "plain", "name": "geoledger.test"}))
        .startswith("{")
    )
