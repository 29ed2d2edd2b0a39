"""The `target` label of `wal_ship_errors_total`: the region whose store failed, read from the
error's `store`, never guessed from its message."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.ship import _target_of
from storage.crr.errors import SegmentNotFoundError, ShipConflictError, VerificationError
from storage.objectstore import ObjectStore
from storage.objectstore.errors import Unavailable
from storage.objectstore.local import LocalObjectStore


@pytest.fixture
def targets(tmp_path: Path) -> dict[str, ObjectStore]:
    # One store's URL is the start of the other's: a search of the message would confuse them.
    return {"eu": LocalObjectStore(tmp_path / "ship"), "us": LocalObjectStore(tmp_path / "ship-us")}


def test_the_store_an_error_names_is_its_target(targets: dict[str, ObjectStore]) -> None:
    us = targets["us"].describe()
    assert _target_of(Unavailable(us, "k", "put", "down"), targets) == "us"
    assert _target_of(ShipConflictError(us, "k", "aa", "bb"), targets) == "us"
    assert _target_of(VerificationError(f"{us}/k: missing", store=us), targets) == "us"
    assert _target_of(Unavailable(targets["eu"].describe(), None, "list", "down"), targets) == "eu"


def test_an_error_of_no_store_is_unknown(targets: dict[str, ObjectStore]) -> None:
    mentions = f"{targets['us'].describe()}: no sealed segment starts at seq 7"
    assert _target_of(SegmentNotFoundError(mentions), targets) == "unknown"
    assert _target_of(Unavailable("s3://elsewhere", "k", "get", "down"), targets) == "unknown"
