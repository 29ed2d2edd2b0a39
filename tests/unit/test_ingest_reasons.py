"""Every rejection reason the ingest API can answer is one `Reason`, documented where clients
read: the API reference and each SDK's README list exactly the enum's codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.ingest.results import Reason
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
