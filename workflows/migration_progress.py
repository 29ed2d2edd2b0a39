"""The `progress` query's answer, computed from a migration's state (pure: no I/O, no clock)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.migrate_models import MigrationProgress, MigrationState, PassKind, Stage
    from ledger.route_acks import NodeAck

# Passes whose length the plan's key count estimates.
_MEASURED_PASSES = (PassKind.COPY, PassKind.VERIFY, PassKind.CATCH_UP, PassKind.REVERIFY)


def progress_of(
    migration_id: str,
    state: MigrationState,
    waiting_for: str | None,
    pending_nodes: list[NodeAck],
) -> MigrationProgress:
    """Where the migration is; the ETA is the rest of the current pass at the current rate,
    estimated from the plan's key count (None outside such a pass)."""
    plan = state.plan
    cursor = next((c for c in state.cursors if not c.done), None)
    keys_to_move = plan.keys_to_move if plan is not None else 0
    eta_s = None
    if state.pass_kind in _MEASURED_PASSES and not waiting_for:
        eta_s = max(keys_to_move - state.pass_keys, 0) / state.rate_keys_per_s
    return MigrationProgress(
        migration_id=migration_id,
        region=plan.region if plan is not None else "",
        from_ring=plan.from_ring if plan is not None else 0,
        to_ring=plan.to_ring if plan is not None else 0,
        stage=state.stage,
        step=state.step,
        route_epoch=state.route.epoch if state.route is not None else None,
        route_phase=state.route.phase if state.route is not None else None,
        pass_name=state.pass_kind.value if state.pass_kind is not None else None,
        pair=cursor.pair if cursor is not None else None,
        keys_to_move=keys_to_move,
        keys_copied=state.keys_copied,
        keys_verified=state.keys_verified,
        keys_cleaned=state.keys_cleaned,
        pass_keys=state.pass_keys,
        mismatches=state.mismatches,
        behind=state.behind,
        mismatch_objects=state.mismatch_objects,
        rate_keys_per_s=state.rate_keys_per_s,
        eta_s=eta_s,
        paused=state.paused,
        waiting_for=waiting_for if state.stage not in (Stage.DONE, Stage.ROLLED_BACK) else None,
        pending_nodes=pending_nodes,
        last_error=state.last_error,
        refused=state.refused,
    )
