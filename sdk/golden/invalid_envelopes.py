"""The vectors' `invalid_envelopes`: envelopes that break one rule each, with the field the
reference's schema error names.

`typed_integers_only`: only an SDK whose JSON model tells integers from doubles (Python, Go) can
see the problem; in JavaScript 2**53 parses to the same number as the valid double
9007199254740992.0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from golden.recipes import Repeat
from golden.types import Json
from golden.verdicts import rejected_field

# The envelope each case breaks; valid as it stands.
VALID_ENVELOPE: Json = {
    "tenant_id": "acme",
    "event_id": "evt-invalid",
    "key_id": "ed25519:0000000000000000",
    "occurred_at": "2025-01-31T12:00:00Z",
    "type": "order.created",
    "payload": {},
}


@dataclass(frozen=True)
class InvalidEnvelope:
    """VALID_ENVELOPE with `change` set over it, the fields in `remove` taken out, and its payload
    replaced by `recipe` when there is one."""

    name: str
    change: Json = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    recipe: Repeat | None = None
    typed_integers_only: bool = False


INVALID_ENVELOPES: tuple[InvalidEnvelope, ...] = (
    InvalidEnvelope("tenant_id_empty", {"tenant_id": ""}),
    InvalidEnvelope("tenant_id_uppercase", {"tenant_id": "Acme"}),
    InvalidEnvelope("tenant_id_leading_dash", {"tenant_id": "-acme"}),
    InvalidEnvelope("tenant_id_leading_dot", {"tenant_id": ".acme"}),
    InvalidEnvelope("tenant_id_colon", {"tenant_id": "acme:eu"}),
    InvalidEnvelope("tenant_id_too_long", {"tenant_id": "t" * 65}),
    InvalidEnvelope("tenant_id_non_ascii_letter", {"tenant_id": "acm\u00e9"}),
    InvalidEnvelope("tenant_id_not_string", {"tenant_id": 7}),
    InvalidEnvelope("event_id_empty", {"event_id": ""}),
    InvalidEnvelope("event_id_too_long", {"event_id": "e" * 129}),
    InvalidEnvelope("event_id_slash", {"event_id": "a/b"}),
    InvalidEnvelope("event_id_space", {"event_id": "a b"}),
    InvalidEnvelope("event_id_unicode_digit", {"event_id": "evt-\u0663"}),
    InvalidEnvelope("key_id_plus", {"key_id": "ed25519:ab+cd"}),
    InvalidEnvelope("key_id_empty", {"key_id": ""}),
    InvalidEnvelope("occurred_at_no_offset", {"occurred_at": "2025-01-31T12:00:00"}),
    InvalidEnvelope("occurred_at_date_only", {"occurred_at": "2025-01-31"}),
    InvalidEnvelope("occurred_at_space_separator", {"occurred_at": "2025-01-31 12:00:00Z"}),
    InvalidEnvelope("occurred_at_month_13", {"occurred_at": "2025-13-01T00:00:00Z"}),
    InvalidEnvelope("occurred_at_february_30", {"occurred_at": "2025-02-30T00:00:00Z"}),
    InvalidEnvelope("occurred_at_february_29_non_leap", {"occurred_at": "2023-02-29T00:00:00Z"}),
    InvalidEnvelope("occurred_at_hour_24", {"occurred_at": "2025-01-31T24:00:00Z"}),
    InvalidEnvelope("occurred_at_second_61", {"occurred_at": "2025-01-31T23:59:61Z"}),
    InvalidEnvelope("occurred_at_offset_hour_24", {"occurred_at": "2025-01-31T12:00:00+24:00"}),
    InvalidEnvelope(
        "occurred_at_fraction_10_digits", {"occurred_at": "2025-01-31T12:00:00.1234567890Z"}
    ),
    InvalidEnvelope("occurred_at_empty_fraction", {"occurred_at": "2025-01-31T12:00:00.Z"}),
    InvalidEnvelope("occurred_at_year_zero", {"occurred_at": "0000-01-01T00:00:00Z"}),
    InvalidEnvelope("occurred_at_unicode_digits", {"occurred_at": "\u0662025-01-31T12:00:00Z"}),
    InvalidEnvelope("occurred_at_trailing_newline", {"occurred_at": "2025-01-31T12:00:00Z\n"}),
    InvalidEnvelope("type_empty", {"type": ""}),
    InvalidEnvelope("type_too_long", {"type": "t" * 129}),
    InvalidEnvelope("type_newline", {"type": "order\ncreated"}),
    InvalidEnvelope("type_nul", {"type": "order\u0000"}),
    InvalidEnvelope("type_del", {"type": "order\u007f"}),
    InvalidEnvelope("type_c1_control", {"type": "order\u0085"}),
    InvalidEnvelope("payload_array", {"payload": []}),
    InvalidEnvelope("payload_string", {"payload": "{}"}),
    InvalidEnvelope("payload_null", {"payload": None}),
    InvalidEnvelope("payload_one_byte_over", recipe=Repeat("blob", "x", 262134)),
    InvalidEnvelope(
        "payload_over_in_bytes_not_characters", recipe=Repeat("blobs", "\u00e9", 131067)
    ),
    InvalidEnvelope(
        "payload_integer_above_safe_range", {"payload": {"n": 2**53}}, typed_integers_only=True
    ),
    InvalidEnvelope(
        "payload_integer_below_safe_range", {"payload": {"n": -(2**53)}}, typed_integers_only=True
    ),
    InvalidEnvelope("unknown_field", {"extra_field": "x"}),
    InvalidEnvelope("missing_type", remove=("type",)),
)


def invalid_entry(case: InvalidEnvelope) -> Json:
    """The envelope as JSON with the reference's verdict: the field its schema error names."""
    fields = {**VALID_ENVELOPE, **case.change}
    for name in case.remove:
        fields.pop(name)
    if case.recipe is not None:
        fields.pop("payload")
    entry: Json = {"name": case.name, "envelope": fields}
    if case.recipe is not None:
        entry["payload_recipe"] = case.recipe.as_json()
    if case.typed_integers_only:
        entry["typed_integers_only"] = True
    materialized = dict(fields)
    if case.recipe is not None:
        materialized["payload"] = case.recipe.payload()
    entry["field"] = rejected_field(materialized, case.name)
    return entry
