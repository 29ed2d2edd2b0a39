"""Every rejection reason the ingest API can answer is one `Reason`, documented where clients
read: the API reference and each SDK's README list exactly the enum's codes, and each SDK declares
exactly the same codes under the same names."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from api.ingest.results import Reason
from geoledger_sdk import Reason as SdkReason
from ledger.envelope import ENVELOPE_FIELDS

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = (
    "docs/api.md",
    "sdk/README.md",
    "sdk/python/README.md",
    "sdk/go/README.md",
    "sdk/ts/README.md",
)
# What a document presents as a reason code: a backquoted `<prefix>.<word>` with a prefix of the
# enum's dotted codes (`schema.payload`, also a stale `key.expired`), or an undotted code itself.
_PREFIXES = sorted({reason.value.split(".")[0] for reason in Reason if "." in reason.value})
_UNDOTTED = sorted(reason.value for reason in Reason if "." not in reason.value)
_CODE = re.compile(rf"`((?:{'|'.join(_PREFIXES)})\.[a-z_]+|{'|'.join(_UNDOTTED)})`")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_document_lists_exactly_the_reason_codes(document: str) -> None:
    listed = set(_CODE.findall((ROOT / document).read_text(encoding="utf-8")))
    codes = {reason.value for reason in Reason}
    assert not codes - listed, f"{document} does not document {sorted(codes - listed)}"
    assert not listed - codes, f"{document} names codes that do not exist: {sorted(listed - codes)}"


def test_every_schema_field_has_a_reason() -> None:
    # EventSchemaError.reason is "schema.<field>" for a field of the envelope, the signature or
    # the event as a whole; the ingest API turns it into a Reason and would fail on a new field.
    for field in (*ENVELOPE_FIELDS, "signature", "event"):
        assert Reason(f"schema.{field}")


# The SDKs' declarations: Go `ReasonSchemaTenantID Reason = "schema.tenant_id"` constants, the
# members of TypeScript's `export const Reason = { ... } as const` object.
_GO_CONSTANT = re.compile(r'^\s*(Reason\w+)\s+Reason\s*=\s*"([^"]*)"', re.MULTILINE)
_TS_OBJECT = re.compile(r"export const Reason = \{(.*?)\} as const;", re.DOTALL)
_TS_MEMBER = re.compile(r'^\s*(\w+):\s*"([^"]*)",?$', re.MULTILINE)


def _go_name(member: Reason) -> str:
    # Go spells the constant in CamelCase with the initialism upper-cased: SCHEMA_TENANT_ID is
    # ReasonSchemaTenantID.
    words = member.name.split("_")
    return "Reason" + "".join("ID" if word == "ID" else word.capitalize() for word in words)


def _sources(folder: str, pattern: str) -> str:
    """The text of the SDK's own source files in `folder`, its tests left out."""
    files = [path for path in sorted((ROOT / folder).glob(pattern)) if "_test." not in path.name]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def _declared_by_go() -> dict[str, str]:
    return dict(_GO_CONSTANT.findall(_sources("sdk/go", "*.go")))


def _declared_by_ts() -> dict[str, str]:
    declarations = _TS_OBJECT.findall(_sources("sdk/ts/src", "*.ts"))
    assert len(declarations) == 1, "sdk/ts/src should declare one `export const Reason = {...}`"
    return dict(_TS_MEMBER.findall(declarations[0]))


def _declared_by_python() -> dict[str, str]:
    return {member.name: member.value for member in SdkReason}


def _same_name(member: Reason) -> str:
    return member.name


# Per SDK: what it declares (constant name -> code), and the name it should give each API reason.
_SDK_DECLARATIONS: dict[str, tuple[Callable[[], dict[str, str]], Callable[[Reason], str]]] = {
    "python": (_declared_by_python, _same_name),
    "go": (_declared_by_go, _go_name),
    "ts": (_declared_by_ts, _same_name),
}


@pytest.mark.parametrize("sdk", sorted(_SDK_DECLARATIONS))
def test_sdk_declares_exactly_the_reason_codes(sdk: str) -> None:
    declared_by, name_of = _SDK_DECLARATIONS[sdk]
    expected = {name_of(member): member.value for member in Reason}
    assert declared_by() == expected, f"the {sdk} SDK's reasons differ from the API's"
