"""A tenant's tiering policy: how long bodies stay hot and warm, how long records are kept, how
warm and cold bodies are compressed, where cold packs are stored, and the tenant's legal hold.

Three layers make a tenant's effective policy, each field taken from the last layer that sets it:
the defaults (`[tiering]` in geoledger.toml), the tenant's section of the file
(`[tenants.<tenant>]`) and the override stored in a region's control database. An override holds
only the fields it sets, so a default changed later still reaches every field nobody overrode.

A policy is valid or it does not exist: `TierPolicy` checks every rule when it is built and
`TierPolicyError` lists each rule broken, one message per rule (`policy_problems`).

Legal hold has two fields, because the law asks for two different things:
- `legal_hold` is a litigation hold: open-ended (nobody knows when the case ends), it stops every
  deletion of the tenant's records while it is on, whatever the retention says, and lifting it
  lets retention resume. It cannot conflict with a retention, so it is never a validation error.
- `legal_hold_days` is a minimum retention imposed from outside (e.g. "keep ledgers 7 years"):
  a duration, so a retention shorter than it is refused when the policy is set, before any
  record could be deleted too early.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ledger.errors import LedgerError

BackendKind = Literal["s3", "gcs"]

COLD_CLASSES: Mapping[BackendKind, tuple[str, ...]] = {
    "s3": (
        "STANDARD",
        "STANDARD_IA",
        "INTELLIGENT_TIERING",
        "GLACIER_IR",
        "GLACIER",
        "DEEP_ARCHIVE",
    ),
    "gcs": ("STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"),
}
"""The storage classes a cold pack may be written in, per object store kind."""

RESTORE_CLASSES: Mapping[BackendKind, frozenset[str]] = {
    # GLACIER_IR is read directly (instant retrieval); GCS ARCHIVE objects are always readable.
    "s3": frozenset({"GLACIER", "DEEP_ARCHIVE"}),
    "gcs": frozenset(),
}
"""The classes whose objects must be restored before a GET can read them."""

_SCHEME_KINDS: Mapping[str, BackendKind] = {"s3": "s3", "gs": "gcs"}

MAX_ZSTD_LEVEL = 22


class TierPolicyError(LedgerError, ValueError):
    """A policy (or a change to one) breaks rules; `problems` holds one message per rule. A
    ValueError, so pydantic reports it as a validation error of the model that raised it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class PolicySource(StrEnum):
    """Where an effective policy field comes from."""

    DEFAULT = "default"  # [tiering] in geoledger.toml, or the model's default
    CONFIG = "config"  # [tenants.<tenant>] in geoledger.toml
    OVERRIDE = "override"  # the tenant's row in the region's control database


class TierPolicy(BaseModel):
    """A tenant's complete policy. TTLs count days from a record's acceptance: a body is hot
    until `hot_ttl_days`, warm until `warm_ttl_days`, cold after; `retention_days` None keeps
    records forever."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hot_ttl_days: int = 7
    warm_ttl_days: int = 90
    retention_days: int | None = None
    # Compression of warm and cold bodies is opt-in (zstd, level 1-22).
    compression: bool = False
    compression_level: int = 3
    # A trained per-tenant zstd dictionary; it only applies to compressed bodies.
    dictionary: bool = False
    cold_class_s3: str = "STANDARD"
    cold_class_gcs: str = "STANDARD"
    # A read served from warm or cold moves the body back to hot.
    promote_on_read: bool = True
    legal_hold: bool = False
    legal_hold_days: int | None = None

    @model_validator(mode="after")
    def _follows_every_rule(self) -> TierPolicy:
        problems = policy_problems(self)
        if problems:
            raise TierPolicyError(problems)
        return self

    def cold_class(self, kind: BackendKind) -> str:
        """The class cold packs are written in on an object store of `kind`."""
        return self.cold_class_s3 if kind == "s3" else self.cold_class_gcs

    def cold_needs_restore(self, kind: BackendKind) -> bool:
        """True when this tenant's cold packs on `kind` must be restored before a read."""
        return needs_restore(kind, self.cold_class(kind))


class TierPolicyOverride(BaseModel):
    """Some fields of a policy: a tenant's section of the file or its stored override. Only the
    fields given are set (`fields()`); None for `retention_days`/`legal_hold_days` sets them to
    "none" (keep forever, no minimum), it does not unset them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hot_ttl_days: int | None = None
    warm_ttl_days: int | None = None
    retention_days: int | None = None
    compression: bool | None = None
    compression_level: int | None = None
    dictionary: bool | None = None
    cold_class_s3: str | None = None
    cold_class_gcs: str | None = None
    promote_on_read: bool | None = None
    legal_hold: bool | None = None
    legal_hold_days: int | None = None

    def fields(self) -> dict[str, Any]:
        """The fields this override sets, by name."""
        return self.model_dump(exclude_unset=True)


POLICY_FIELDS: tuple[str, ...] = tuple(TierPolicy.model_fields)


def needs_restore(kind: BackendKind, storage_class: str) -> bool:
    """True when objects of `storage_class` on `kind` must be restored before a GET reads them."""
    return storage_class in RESTORE_CLASSES[kind]


def backend_kind(scheme: str) -> BackendKind | None:
    """The kind of an object store URL scheme (`s3`, `gs`); None for stores without classes."""
    return _SCHEME_KINDS.get(scheme)


def _at_least(field: str, minimum: int, unit: str) -> Callable[[TierPolicy], str | None]:
    def rule(policy: TierPolicy) -> str | None:
        value = getattr(policy, field)
        if value is None or value >= minimum:
            return None
        return f"{field}: expected {minimum} or more {unit}, got {value}"

    return rule


def _warm_after_hot(policy: TierPolicy) -> str | None:
    if policy.warm_ttl_days >= policy.hot_ttl_days:
        return None
    return (
        f"warm_ttl_days ({policy.warm_ttl_days}) is shorter than hot_ttl_days "
        f"({policy.hot_ttl_days}): a body leaves warm only after it has left hot"
    )


def _retention_covers_hold(policy: TierPolicy) -> str | None:
    retention, hold = policy.retention_days, policy.legal_hold_days
    if retention is None or hold is None or retention >= hold:
        return None
    return (
        f"retention_days ({retention}) is shorter than the tenant's legal hold "
        f"(legal_hold_days {hold}): records would be deleted while the hold still requires them"
    )


def _level_in_range(policy: TierPolicy) -> str | None:
    if 1 <= policy.compression_level <= MAX_ZSTD_LEVEL:
        return None
    level = policy.compression_level
    return f"compression_level: expected a zstd level 1-{MAX_ZSTD_LEVEL}, got {level}"


def _dictionary_needs_compression(policy: TierPolicy) -> str | None:
    if not policy.dictionary or policy.compression:
        return None
    return "dictionary: a dictionary only applies to compressed bodies; turn compression on too"


def _known_class(kind: BackendKind) -> Callable[[TierPolicy], str | None]:
    def rule(policy: TierPolicy) -> str | None:
        chosen = policy.cold_class(kind)
        if chosen in COLD_CLASSES[kind]:
            return None
        return (
            f"cold_class_{kind}: unknown {kind.upper()} storage class {chosen!r}; "
            f"known: {', '.join(COLD_CLASSES[kind])}"
        )

    return rule


_RULES: tuple[Callable[[TierPolicy], str | None], ...] = (
    _at_least("hot_ttl_days", 0, "days"),
    _at_least("warm_ttl_days", 0, "days"),
    _warm_after_hot,
    _at_least("retention_days", 1, "days"),
    _at_least("legal_hold_days", 1, "days"),
    _retention_covers_hold,
    _level_in_range,
    _dictionary_needs_compression,
    _known_class("s3"),
    _known_class("gcs"),
)


def policy_problems(policy: TierPolicy) -> list[str]:
    """One message per rule `policy` breaks, in a fixed order; empty when it is valid."""
    return [problem for rule in _RULES if (problem := rule(policy)) is not None]


def merge_policy(
    defaults: TierPolicy,
    config: TierPolicyOverride | None = None,
    override: TierPolicyOverride | None = None,
) -> tuple[TierPolicy, dict[str, PolicySource]]:
    """The effective policy and, per field, the layer it comes from.

    Raises TierPolicyError listing every rule the merged policy breaks (each layer may be fine
    alone: an override's hot TTL can pass the warm TTL set in the file).
    """
    values: dict[str, Any] = defaults.model_dump()
    sources = dict.fromkeys(values, PolicySource.DEFAULT)
    for layer, source in ((config, PolicySource.CONFIG), (override, PolicySource.OVERRIDE)):
        if layer is None:
            continue
        for name, value in layer.fields().items():
            values[name] = value
            sources[name] = source
    return build_policy(values), sources


def build_policy(values: Mapping[str, Any]) -> TierPolicy:
    """A TierPolicy of `values`, or TierPolicyError with one message per broken rule."""
    try:
        return TierPolicy.model_validate(values)
    except ValidationError as exc:
        raise TierPolicyError(_messages(exc)) from None


def build_override(values: Mapping[str, Any]) -> TierPolicyOverride:
    """An override setting exactly the fields in `values`, or TierPolicyError naming each bad
    field (unknown name, wrong type)."""
    try:
        return TierPolicyOverride.model_validate(values)
    except ValidationError as exc:
        raise TierPolicyError(_messages(exc)) from None


def check_field_names(names: list[str]) -> list[str]:
    """`names` as policy field names (`-` read as `_`), or TierPolicyError for unknown ones."""
    fields = [name.replace("-", "_") for name in names]
    unknown = [name for name in fields if name not in POLICY_FIELDS]
    if unknown:
        raise TierPolicyError(
            [
                f"unknown policy field {name!r}; known: {', '.join(POLICY_FIELDS)}"
                for name in unknown
            ]
        )
    return fields


def _messages(exc: ValidationError) -> list[str]:
    messages: list[str] = []
    for error in exc.errors():
        raised = error.get("ctx", {}).get("error")
        if isinstance(raised, TierPolicyError):
            messages.extend(raised.problems)
            continue
        where = ".".join(str(part) for part in error["loc"])
        messages.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return messages
