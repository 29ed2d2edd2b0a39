"""How a person steers a CanaryWorkflow: `promote` a paused canary (on to the next step, or with
`full` straight to 100 %) or `abort` it (ramp 0, current build unchanged), and the `status`
query.

Each control is a Temporal signal - the web UI's "Send a Signal", with `{"who": "alice"}` as
its input - and an update of the same name, which the CLI uses: the update's validator refuses
a control that does not fit (promote while ramping, or by someone the policy does not name;
anything after the canary ended) with the reason, changing nothing. A signal that does not fit is
ignored, its reason kept as `refused` in the status.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.canary_models import (
        FINAL_PHASES,
        CanaryInput,
        CanaryPhase,
        CanaryStatus,
        ControlAnswer,
        Decision,
    )


class CanaryControl:
    """The signals, updates, validators and query; the workflow class adds the run."""

    _request: CanaryInput
    _status: CanaryStatus
    _promoted: Decision | None
    _aborted: Decision | None

    @workflow.query
    def status(self) -> CanaryStatus:
        """Phase, step, the last analysis and why the canary paused or rolled back."""
        return self._status

    def _name(self) -> str:
        return f"canary of {self._request.deployment} build {self._request.build_id}"

    def _why_not_promote(self, decision: Decision) -> str | None:
        phase = self._status.phase
        if phase is not CanaryPhase.PAUSED or self._promoted is not None:
            return f"{self._name()} is {phase.value}: only a paused canary is promoted"
        promoters = self._request.policy.promoters
        if decision.who not in promoters:
            allowed = ", ".join(promoters) or "nobody (set promoters in its policy)"
            return (
                f"{decision.who!r} may not promote deployment {self._request.deployment}; "
                f"its policy names: {allowed}"
            )
        return None

    def _why_not_abort(self) -> str | None:
        if self._status.phase in FINAL_PHASES or self._aborted is not None:
            return f"{self._name()} is {self._status.phase.value}: nothing to abort"
        return None

    def _do_promote(self, decision: Decision) -> ControlAnswer:
        self._promoted = decision
        self._status.refused = None
        to = "100 %" if decision.full else "its next step"
        return ControlAnswer(
            accepted=True,
            message=f"{self._name()} promoted to {to} by {decision.who}",
            phase=self._status.phase,
        )

    def _do_abort(self, decision: Decision) -> ControlAnswer:
        self._aborted = decision
        self._status.refused = None
        return ControlAnswer(
            accepted=True,
            message=f"{self._name()} aborted by {decision.who}: it rolls back",
            phase=self._status.phase,
        )

    def _refuse(self, reason: str) -> None:
        self._status.refused = reason
        workflow.logger.warning("control refused: %s", reason)

    # Signals: the web UI's Send a Signal, and scripts.

    @workflow.signal(name="promote")
    def promote_signal(self, decision: Decision) -> None:
        """Go on after an inconclusive analysis (`full`: straight to 100 %)."""
        reason = self._why_not_promote(decision)
        self._refuse(reason) if reason else self._do_promote(decision)

    @workflow.signal(name="abort")
    def abort_signal(self, decision: Decision) -> None:
        """Roll the build back: ramp 0, the current build unchanged."""
        reason = self._why_not_abort()
        self._refuse(reason) if reason else self._do_abort(decision)

    # Updates: the CLI, answered at once, refused by their validators.

    @workflow.update(name="promote")
    def promote(self, decision: Decision) -> ControlAnswer:
        """Promote a paused canary; refused while it ramps or for someone not in the policy."""
        return self._do_promote(decision)

    @promote.validator
    def _check_promote(self, decision: Decision) -> None:
        _reject(self._why_not_promote(decision))

    @workflow.update(name="abort")
    def abort(self, decision: Decision) -> ControlAnswer:
        """Abort; refused once the canary ended."""
        return self._do_abort(decision)

    @abort.validator
    def _check_abort(self, decision: Decision) -> None:
        _reject(self._why_not_abort())


def _reject(reason: str | None) -> None:
    """A validator's refusal: the update is rejected with `reason` and changes nothing."""
    if reason is not None:
        raise ValueError(reason)
