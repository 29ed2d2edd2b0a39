"""The bucket lifecycle rules tiering asks of a region's store, and the difference between them and
what the bucket has. Pure: the caller reads the bucket and the policies, and writes the result.

What the rules are (per tenant, under `<store prefix>/tiering/packs/<tenant>/`):
- cold packs move to the tenant's cold class for the store's kind (`cold_class_s3` /
  `cold_class_gcs`) as soon as the provider allows: a pack is written only for bodies already
  past their warm TTL, so its age in the bucket adds nothing to wait for. STANDARD needs no rule
  (objects are written in it; S3 cannot even transition to it).
- with a retention and no legal hold, packs are deleted `retention_days` after they were written.
  Every body in a pack was accepted before the pack was written, so a pack that old holds only
  bodies past retention: the rule is a backstop that never deletes what the policy keeps (the
  retention workflow deletes earlier and moves the tenant's horizon first).
Shipped WAL (`wal/`) gets no rule: the configuration has no retention for shipped segments in the
object stores (`[wal] retain_shipped_s` is how long a node keeps its local copy once every store
holds it), so they are kept forever and nothing is planned for them.

Which rules are ours: those whose prefix lies under the store's `tiering/packs/` and that the
model can say completely. Every other rule of the bucket is "not ours": shown, and written back
exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ledger.tier_policy import BackendKind, TierPolicy
from storage.objectstore.lifecycle import BucketRule, LifecycleAction, LifecycleRule
from storage.tiering.packs import PACKS_PREFIX

UNCHANGED_CLASS = "STANDARD"
"""The class objects are written in; a cold class equal to it needs no transition."""

MIN_TRANSITION_DAYS: Mapping[BackendKind, Mapping[str, int]] = {
    # S3 moves objects to STANDARD_IA only after 30 days in STANDARD (it refuses fewer); every
    # other class, and every GCS class, may be entered at once.
    "s3": {"STANDARD_IA": 30},
    "gcs": {},
}


class Change(StrEnum):
    """What applying a plan does to one rule."""

    ADD = "add"
    CHANGE = "change"
    REMOVE = "remove"
    KEEP = "keep"
    NOT_OURS = "not ours"


@dataclass(frozen=True)
class PlanEntry:
    """One line of a plan: a rule's prefix and action, what the bucket has and what it will
    have ("-" for nothing)."""

    change: Change
    prefix: str
    action: str
    current: str
    planned: str


@dataclass(frozen=True)
class LifecyclePlan:
    """The plan for one bucket: `entries` to show, `rules` (ours) and `kept` (everything else,
    as read) to write."""

    entries: tuple[PlanEntry, ...]
    rules: tuple[LifecycleRule, ...]
    kept: tuple[BucketRule, ...]

    @property
    def has_changes(self) -> bool:
        """True when applying the plan would change the bucket's rules."""
        return any(entry.change in _CHANGES for entry in self.entries)


_CHANGES = frozenset({Change.ADD, Change.CHANGE, Change.REMOVE})


def packs_root(store_prefix: str) -> str:
    """The bucket key prefix of every cold pack of a store with `store_prefix`: the rules under it
    are ours."""
    return _under(store_prefix, f"{PACKS_PREFIX}/")


def tenant_packs_prefix(store_prefix: str, tenant: str) -> str:
    """The bucket key prefix of `tenant`'s cold packs."""
    return f"{packs_root(store_prefix)}{tenant}/"


def derive_rules(
    kind: BackendKind, store_prefix: str, policies: Mapping[str, TierPolicy]
) -> list[LifecycleRule]:
    """The rules for the tenants' cold packs on a store of `kind` with `store_prefix`, given each
    tenant's effective policy in the store's region; sorted."""
    rules: list[LifecycleRule] = []
    for tenant, policy in policies.items():
        prefix = tenant_packs_prefix(store_prefix, tenant)
        cold_class = policy.cold_class(kind)
        if cold_class != UNCHANGED_CLASS:
            age = MIN_TRANSITION_DAYS[kind].get(cold_class, 0)
            rules.append(LifecycleRule(prefix, "transition", age, cold_class))
        if policy.retention_days is not None and not policy.legal_hold:
            rules.append(LifecycleRule(prefix, "delete", policy.retention_days))
    return sorted(rules)


def is_ours(rule: BucketRule, store_prefix: str) -> bool:
    """True when `rule` is one this planner owns: under the packs prefix and fully modelled."""
    return (
        bool(rule.rules)
        and rule.prefix is not None
        and rule.prefix.startswith(packs_root(store_prefix))
    )


def plan_lifecycle(
    bucket: Sequence[BucketRule], wanted: Sequence[LifecycleRule], store_prefix: str
) -> LifecyclePlan:
    """The difference between the bucket's rules and `wanted` (our rules, one per prefix and
    action), as entries sorted by prefix and action.

    Each of our bucket rules is kept when `wanted` has it, changed when `wanted` has another
    version of it (same prefix and action), removed otherwise (so is a second copy of one); each
    wanted rule the bucket lacks is added. Rules that are not ours are kept as they are.
    """
    targets: dict[tuple[str, LifecycleAction], LifecycleRule] = {}
    for rule in wanted:
        if rule.slot in targets:
            raise ValueError(f"expected one rule per prefix and action, got two for {rule.slot}")
        targets[rule.slot] = rule
    kept = tuple(rule for rule in bucket if not is_ours(rule, store_prefix))
    ours = [rule for held in bucket if is_ours(held, store_prefix) for rule in held.rules]
    entries: list[PlanEntry] = []
    matched: set[tuple[str, LifecycleAction]] = set()
    for current in ours:
        target = targets.get(current.slot)
        if target is None or current.slot in matched:
            entries.append(_entry(Change.REMOVE, current, None))
            continue
        matched.add(current.slot)
        entries.append(_entry(Change.KEEP if current == target else Change.CHANGE, current, target))
    entries += [
        _entry(Change.ADD, None, rule) for slot, rule in targets.items() if slot not in matched
    ]
    entries.sort(key=lambda entry: (entry.prefix, entry.action))
    entries += [
        PlanEntry(Change.NOT_OURS, rule.prefix or "-", _actions(rule), _shown(rule), "kept as is")
        for rule in kept
    ]
    return LifecyclePlan(tuple(entries), tuple(sorted(targets.values())), kept)


def _entry(
    change: Change, current: LifecycleRule | None, planned: LifecycleRule | None
) -> PlanEntry:
    rule = current or planned
    assert rule is not None  # every entry has a rule on one side at least
    return PlanEntry(
        change,
        rule.prefix,
        rule.action,
        current.describe() if current else "-",
        planned.describe() if planned else "-",
    )


def _shown(rule: BucketRule) -> str:
    """A rule that is not ours: the provider's summary, and what it does when the model says."""
    done = ", ".join(r.describe() for r in rule.rules)
    return f"{rule.summary}: {done}" if done else rule.summary


def _actions(rule: BucketRule) -> str:
    return ", ".join(r.action for r in rule.rules) or "?"


def _under(store_prefix: str, relative: str) -> str:
    prefix = store_prefix.strip("/")
    return f"{prefix}/{relative}" if prefix else relative
