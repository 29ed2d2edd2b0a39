"""`geoledger canary start | status | promote | abort`: roll a worker build out through
CanaryWorkflow (workflows/canary.py) and steer it.

Exit codes: 0 started / accepted / (status) ramping or promoted; 1 refused (the reason is
printed, nothing changed) or (status) rolled back or aborted; 2 bad input (no such canary, no
--deployment where several may ramp); 3 Temporal unreachable; 5 (status) paused, waiting for
promote or abort.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from temporalio.service import RPCError, RPCStatusCode

from activities.canary_models import CanaryPhase, CanaryStatus, ControlAnswer, Decision
from cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    console,
    fail,
    print_json,
    settings_from,
    temporal_client,
)
from ledger.config import Settings
from workers.canary_control import (
    CanaryRefused,
    canary_status,
    control_canary,
    policy_for,
    start_canary,
)

canary_app = typer.Typer(help="Canary rollout of worker builds.", no_args_is_help=True)

_T = TypeVar("_T")

BuildOption = Annotated[str, typer.Option("--build", "-b", help="The build id to roll out.")]
DeploymentOption = Annotated[
    str | None,
    typer.Option(
        "--deployment",
        "-d",
        help="The worker deployment (default: the only one [deployment.policies] names).",
    ),
]
WhoOption = Annotated[str | None, typer.Option("--who", help="Who decides (default: the OS user).")]
_STATUS_EXIT = {
    CanaryPhase.RAMPING: ExitCode.OK,
    CanaryPhase.PROMOTED: ExitCode.OK,
    CanaryPhase.PAUSED: ExitCode.PENDING,
    CanaryPhase.ROLLED_BACK: ExitCode.FAILED,
    CanaryPhase.ABORTED: ExitCode.FAILED,
}


def _run(work: Coroutine[Any, Any, _T]) -> _T:
    try:
        return asyncio.run(work)
    except CanaryRefused as exc:
        fail(str(exc), ExitCode.FAILED)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            fail(f"no such canary: {exc}", ExitCode.BAD_INPUT)
        fail(f"Temporal: {exc}", ExitCode.UNAVAILABLE)


def _deployment(settings: Settings, deployment: str | None) -> str:
    if deployment is not None:
        return deployment
    policies = sorted(settings.deployment.policies)
    if len(policies) != 1:
        fail(
            f"--deployment is needed: [deployment.policies] names {', '.join(policies) or 'none'}",
            ExitCode.BAD_INPUT,
        )
    return policies[0]


@canary_app.command("start")
def start(
    build: BuildOption,
    deployment: DeploymentOption = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Start CanaryWorkflow (`canary-<deployment>-<build>`): ramp the build by its deployment's
    policy. Refused (exit 1) when no policy names the deployment or the canary already runs."""
    settings = settings_from(config)
    name = _deployment(settings, deployment)
    try:
        policy = policy_for(settings, name)
    except CanaryRefused as exc:
        fail(str(exc), ExitCode.FAILED)

    async def _start() -> str:
        client = await temporal_client(settings)
        return await start_canary(client, settings, name, build, getpass.getuser())

    workflow_id = _run(_start())
    if json_output:
        print_json({"workflow_id": workflow_id, "deployment": name, "build_id": build})
        return
    steps = " -> ".join(f"{step} %" for step in policy.steps)
    console.print(
        f"started [bold]{workflow_id}[/bold]: {steps}, {policy.window_s:g} s per step",
        highlight=False,
    )
    console.print(
        f"watch it: geoledger canary status --deployment {name} --build {build}",
        highlight=False,
        soft_wrap=True,
    )


@canary_app.command("status")
def status(
    build: BuildOption,
    deployment: DeploymentOption = None,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Phase, step, the last analysis and why. Exit 0 ramping or promoted, 1 rolled back or
    aborted, 5 paused (waiting for promote or abort)."""
    settings = settings_from(config)
    name = _deployment(settings, deployment)

    async def _query() -> CanaryStatus:
        return await canary_status(await temporal_client(settings), name, build)

    found = _run(_query())
    if json_output:
        print_json(found.model_dump(mode="json"))
    else:
        _print_status(found)
    raise typer.Exit(int(_STATUS_EXIT[found.phase]))


def _print_status(found: CanaryStatus) -> None:
    table = Table(show_header=False, title=f"canary of {found.deployment} build {found.build_id}")
    analysis = found.last_analysis
    rows = [
        ("phase", found.phase.value),
        ("step", f"{found.percentage} % (steps {', '.join(map(str, found.steps))})"),
        (
            "compared with",
            f"build {found.baseline_build}" if found.baseline_build else "unversioned",
        ),
        ("window ends", found.window_ends_at.isoformat() if found.window_ends_at else "-"),
        ("last analysis", f"{analysis.verdict.value}: {analysis.reason}" if analysis else "-"),
        ("reason", found.reason or "-"),
        ("decided by", found.decided_by or "-"),
        ("waiting for", found.waiting_for or "-"),
    ]
    if found.moved_workflows:
        rows.append(("pinned workflows moved", str(found.moved_workflows)))
    if found.refused:
        rows.append(("last refused", found.refused))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def _control(
    config: ConfigOption, deployment: str | None, build: str, control: str, decision: Decision
) -> ControlAnswer:
    settings = settings_from(config)
    name = _deployment(settings, deployment)

    async def _send() -> ControlAnswer:
        return await control_canary(await temporal_client(settings), name, build, control, decision)

    return _run(_send())


def _report(answer: ControlAnswer, json_output: bool) -> None:
    if json_output:
        print_json(answer.model_dump(mode="json"))
    else:
        console.print(answer.message, highlight=False)


@canary_app.command("promote")
def promote(
    build: BuildOption,
    deployment: DeploymentOption = None,
    who: WhoOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="Straight to 100 % instead of the next step.")
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Go on after an inconclusive analysis. Refused (exit 1) unless the canary is paused and
    the policy names WHO among its promoters."""
    decision = Decision(who=who or getpass.getuser(), full=full)
    _report(_control(config, deployment, build, "promote", decision), json_output)


@canary_app.command("abort")
def abort(
    build: BuildOption,
    deployment: DeploymentOption = None,
    who: WhoOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record.")] = "",
    config: ConfigOption = None,
    json_output: JsonOption = False,
) -> None:
    """Roll the build back (ramp 0, the current build unchanged). Refused (exit 1) once the
    canary has ended."""
    decision = Decision(who=who or getpass.getuser(), reason=reason)
    _report(_control(config, deployment, build, "abort", decision), json_output)
