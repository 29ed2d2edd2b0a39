"""Each name that crosses a boundary has one home and names what it says: activity names
(activities/names.py) are the names the workers register, error type names (ledger/error_types.py)
are their exception classes' names, search-attribute names (ledger/search_attributes.py) are the
ones the embedded Temporal server is started with. Nothing else spells them as literals."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.common import SearchAttributeIndexedValueType

from activities import names
from ledger import error_types, search_attributes
from ledger.config import load_settings
from ledger.errors import GeoInputError
from storage.audit.errors import AuditForkDetected
from storage.crr.errors import SegmentNotFoundError, ShipConflictError, VerificationError
from storage.embedded.temporal import SEARCH_ATTRIBUTES
from storage.geo.errors import GeoReportError
from storage.tiering.errors import BodyDecodeError, BodyIntegrityError, TieringInputError
from tests.conftest import REPO_ROOT
from workers import crr_control
from workers.registry import registration_for
from workflows import queues

ERROR_CLASSES: dict[str, type[Exception]] = {
    error_types.SHIP_CONFLICT: ShipConflictError,
    error_types.SEGMENT_NOT_FOUND: SegmentNotFoundError,
    error_types.VERIFICATION: VerificationError,
    error_types.GEO_INPUT: GeoInputError,
    error_types.GEO_REPORT: GeoReportError,
    error_types.TIERING_INPUT: TieringInputError,
    error_types.BODY_INTEGRITY: BodyIntegrityError,
    error_types.BODY_DECODE: BodyDecodeError,
    error_types.AUDIT_FORK: AuditForkDetected,
}
# Raised only as ApplicationError types: there is no class to compare with.
CLASSLESS_ERRORS = {
    error_types.WRONG_STREAM,
    error_types.SMOKE_MISMATCH,
    error_types.RESTORE_IMPOSSIBLE,
    error_types.AUDIT_CONFIG,
}


def constants(module: object) -> dict[str, str]:
    return {
        name: value
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str)
    }


@pytest.mark.parametrize(("name", "cls"), ERROR_CLASSES.items())
def test_an_error_type_name_is_its_class_name(name: str, cls: type[Exception]) -> None:
    # Activities raise ApplicationError(type=type(exc).__name__): retry policies must match it.
    assert name == cls.__name__


def test_every_error_type_name_is_tied_to_a_class_or_declared_classless() -> None:
    declared = set(constants(error_types).values())
    assert declared == set(ERROR_CLASSES) | CLASSLESS_ERRORS


def registered_activity_names() -> set[str]:
    """The names every task queue's worker registers its activities under."""
    settings = load_settings(REPO_ROOT / "geoledger.toml")
    node_queues = [
        queues.node_queue(region, node.name)
        for region, config in settings.regions.items()
        for node in config.nodes
    ]
    found: set[str] = set()
    for queue in [*queues.SHARED_QUEUES, *node_queues]:
        try:
            registration = registration_for(queue, settings)
        except KeyError:  # a queue reserved for a pipeline that has no worker yet
            continue
        found |= {activity._Definition.must_from_callable(f).name for f in registration.activities}
    return found


def test_activity_names_are_the_names_the_workers_register() -> None:
    assert registered_activity_names() == set(constants(names).values())


def test_search_attributes_are_the_ones_the_embedded_server_is_started_with() -> None:
    started = dict(argument.split("=") for argument in SEARCH_ATTRIBUTES)
    assert started == {name: "Keyword" for name in search_attributes.KEYWORD_ATTRIBUTES}
    assert set(constants(search_attributes).values()) == set(started)
    for key in (crr_control.GEO_REGION, crr_control.GEO_STREAM):
        assert started[key.name] == "Keyword"
        assert key.indexed_value_type == SearchAttributeIndexedValueType.KEYWORD


# --- nothing spells the names as literals outside their homes ---


def literal_offences(path: Path) -> list[str]:
    """String literals where an activity or error type name belongs: `activity.defn(name=…)`,
    the activity argument of `execute_activity` / `start_activity`, `ApplicationError(type=…)`
    and `non_retryable_error_types=[…]`."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        callee = ast.unparse(node.func)
        spelled: list[ast.expr] = []
        if callee.endswith(("execute_activity", "start_activity")) and node.args:
            spelled.append(node.args[0])
        for keyword in node.keywords:
            if keyword.arg == "name" and callee == "activity.defn":
                spelled.append(keyword.value)
            if keyword.arg == "type" and callee == "ApplicationError":
                spelled.append(keyword.value)
            if keyword.arg == "non_retryable_error_types" and isinstance(keyword.value, ast.List):
                spelled.extend(keyword.value.elts)
        found += [
            f"{path.relative_to(REPO_ROOT)}:{value.lineno} {value.value!r}"
            for value in spelled
            if isinstance(value, ast.Constant) and isinstance(value.value, str)
        ]
    return found


@pytest.mark.parametrize("package", ["workflows", "activities", "workers"])
def test_no_name_is_spelled_as_a_literal(package: str) -> None:
    paths = sorted((REPO_ROOT / package).rglob("*.py"))
    assert [offence for path in paths for offence in literal_offences(path)] == []
