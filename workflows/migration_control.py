"""How an operator steers a DedupMigrationWorkflow: approvals, pause, resume, rate and rollback.

Each control is a Temporal signal - so the web UI's "Send Signal" can approve a cutover - and
an update of the same name, which the CLI uses: an update's validator answers at once, and a
control that does not fit where the migration is (a cutover approved during copy, or before the
re-verify found zero mismatches; a rollback after cleanup began) is rejected with the reason,
changing nothing. A signal that does not fit is ignored, and its reason kept as `refused` in the
progress, where the operator who sent it sees it.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.migrate_models import (
        FINAL_STAGES,
        ROLLBACK_STAGES,
        ControlAnswer,
        MigrationState,
        Stage,
    )

MAX_RATE_KEYS_PER_S = 10_000_000.0


class MigrationControl:
    """The signals, updates and validators; the workflow class adds the run."""

    _state: MigrationState
    _id: str

    def _can_roll_back(self) -> bool:
        state = self._state
        if state.stage in ROLLBACK_STAGES:
            return True
        # Waiting for the cleanup approval, the route has not stopped writing the old ring yet.
        return state.stage is Stage.CLEANUP and not self._cleanup_began()

    def _cleanup_began(self) -> bool:
        route = self._state.route
        return route is not None and route.phase in ("cleanup", "stable")

    # Reasons a control does not fit; None when it does.

    def _why_not_cutover(self) -> str | None:
        state = self._state
        if state.stage is Stage.CUTOVER and not state.cutover_approved:
            return None
        if state.stage in FINAL_STAGES or state.stage is Stage.ROLLING_BACK:
            return f"migration {self._id} is {state.stage.value}: nothing to approve"
        if state.cutover_approved:
            return f"the cutover of {self._id} is already approved"
        return (
            f"migration {self._id} is in phase {state.stage.value}: a cutover can be approved "
            "once dual-write is acknowledged by every node and the re-verify found zero "
            "mismatches and nothing behind"
        )

    def _why_not_cleanup(self) -> str | None:
        state = self._state
        if state.stage is Stage.CLEANUP and not state.cleanup_approved:
            return None
        if state.cleanup_approved:
            return f"the cleanup of {self._id} is already approved"
        return (
            f"migration {self._id} is in phase {state.stage.value}: a cleanup can be approved "
            "once the cutover is done"
        )

    def _why_not_rollback(self) -> str | None:
        state = self._state
        if state.stage in FINAL_STAGES:
            return f"migration {self._id} is {state.stage.value}: nothing to roll back"
        if state.stage is Stage.ROLLING_BACK or state.rollback_requested:
            return f"migration {self._id} is already rolling back"
        if not self._can_roll_back():
            return (
                f"migration {self._id} is in cleanup: writes go to the new ring only and moved "
                "keys are being deleted from the old shards, so the old ring is no longer "
                "complete; re-shard back with a new plan instead"
            )
        return None

    def _why_not_running(self, what: str) -> str | None:
        if self._state.stage in FINAL_STAGES:
            return f"migration {self._id} is {self._state.stage.value}: nothing to {what}"
        return None

    # What each control does once it fits.

    def _answer(self, message: str) -> ControlAnswer:
        self._state.refused = None
        return ControlAnswer(accepted=True, message=message, stage=self._state.stage)

    def _refuse(self, reason: str) -> None:
        self._state.refused = reason
        workflow.logger.warning("control refused: %s", reason)

    def _do_approve_cutover(self) -> ControlAnswer:
        self._state.cutover_approved = True
        return self._answer(f"cutover of {self._id} approved")

    def _do_approve_cleanup(self) -> ControlAnswer:
        self._state.cleanup_approved = True
        return self._answer(f"cleanup of {self._id} approved")

    def _do_rollback(self) -> ControlAnswer:
        self._state.rollback_requested = True
        return self._answer(f"{self._id} rolls back from phase {self._state.stage.value}")

    def _do_pause(self) -> ControlAnswer:
        self._state.paused = True
        return self._answer(f"{self._id} pauses at the next chunk boundary")

    def _do_resume(self) -> ControlAnswer:
        state = self._state
        state.paused = False
        if state.blocked is not None:
            state.blocked = None
            state.pass_kind = None  # the pass that found mismatches runs again from the start
        state.last_error = None
        return self._answer(f"{self._id} resumes in phase {state.stage.value}")

    def _do_set_rate(self, rate_keys_per_s: float) -> ControlAnswer:
        self._state.rate_keys_per_s = rate_keys_per_s
        return self._answer(f"{self._id} copies at {rate_keys_per_s:g} keys/s from its next run")

    @staticmethod
    def _why_not_rate(rate_keys_per_s: float) -> str | None:
        if not 0 < rate_keys_per_s <= MAX_RATE_KEYS_PER_S:
            return f"rate: expected 0 < keys/s <= {MAX_RATE_KEYS_PER_S:g}, got {rate_keys_per_s}"
        return None

    # Signals: the web UI's Send Signal, and scripts.

    @workflow.signal(name="approve_cutover")
    def approve_cutover_signal(self) -> None:
        """Approve the cutover (reads, then writes, to the new ring)."""
        reason = self._why_not_cutover()
        self._refuse(reason) if reason else self._do_approve_cutover()

    @workflow.signal(name="approve_cleanup")
    def approve_cleanup_signal(self) -> None:
        """Approve the cleanup before its grace period ends."""
        reason = self._why_not_cleanup()
        self._refuse(reason) if reason else self._do_approve_cleanup()

    @workflow.signal(name="rollback")
    def rollback_signal(self) -> None:
        """Restore the previous routing epoch and remove the copied keys."""
        reason = self._why_not_rollback()
        self._refuse(reason) if reason else self._do_rollback()

    @workflow.signal(name="pause")
    def pause_signal(self) -> None:
        """Stop at the next chunk boundary until `resume`."""
        reason = self._why_not_running("pause")
        self._refuse(reason) if reason else self._do_pause()

    @workflow.signal(name="resume")
    def resume_signal(self) -> None:
        """Go on after a pause, an error, or mismatches an operator repaired."""
        reason = self._why_not_running("resume")
        self._refuse(reason) if reason else self._do_resume()

    @workflow.signal(name="set_rate")
    def set_rate_signal(self, rate_keys_per_s: float) -> None:
        """Change the copy throttle (keys per second)."""
        reason = self._why_not_rate(rate_keys_per_s)
        self._refuse(reason) if reason else self._do_set_rate(rate_keys_per_s)

    # Updates: the CLI, answered at once, rejected by their validators.

    @workflow.update(name="approve_cutover")
    def approve_cutover(self) -> ControlAnswer:
        """Approve the cutover; rejected unless the migration waits for it."""
        return self._do_approve_cutover()

    @approve_cutover.validator
    def _check_cutover(self) -> None:
        _reject(self._why_not_cutover())

    @workflow.update(name="approve_cleanup")
    def approve_cleanup(self) -> ControlAnswer:
        """Approve the cleanup; rejected unless the migration waits for it."""
        return self._do_approve_cleanup()

    @approve_cleanup.validator
    def _check_cleanup(self) -> None:
        _reject(self._why_not_cleanup())

    @workflow.update(name="rollback")
    def rollback(self) -> ControlAnswer:
        """Roll back; rejected once cleanup has begun."""
        return self._do_rollback()

    @rollback.validator
    def _check_rollback(self) -> None:
        _reject(self._why_not_rollback())

    @workflow.update(name="pause")
    def pause(self) -> ControlAnswer:
        """Pause at the next chunk boundary."""
        return self._do_pause()

    @pause.validator
    def _check_pause(self) -> None:
        _reject(self._why_not_running("pause"))

    @workflow.update(name="resume")
    def resume(self) -> ControlAnswer:
        """Resume (verify runs again after mismatches)."""
        return self._do_resume()

    @resume.validator
    def _check_resume(self) -> None:
        _reject(self._why_not_running("resume"))

    @workflow.update(name="set_rate")
    def set_rate(self, rate_keys_per_s: float) -> ControlAnswer:
        """Change the copy throttle; rejected outside 0 < rate <= 10M keys/s."""
        return self._do_set_rate(rate_keys_per_s)

    @set_rate.validator
    def _check_rate(self, rate_keys_per_s: float) -> None:
        _reject(self._why_not_rate(rate_keys_per_s))


def _reject(reason: str | None) -> None:
    """A validator's refusal: the update is rejected with `reason` and changes nothing."""
    if reason is not None:
        raise ValueError(reason)
