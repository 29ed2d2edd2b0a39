"""`geoledger audit checkpoint | status | witnesses | witness-reset | prove | verify | dlq show |
start` as an operator runs them, in this process (typer's CliRunner, in a thread so that the
audit worker and ingest nodes of this process keep running) on isolated two-region settings
whose logs each witness the other (tests/support/audit_pipeline.py), on the session's real
stack."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from temporalio.client import WorkflowExecutionStatus
from typer.testing import CliRunner

from cli.audit import audit_app
from ledger.config import Settings
from storage.audit.cosigned import witnessed_note
from storage.audit.dlq import dlq_add
from storage.audit.log_keys import log_vkey
from storage.audit.witness_forks import mark_fork
from tests.conftest import RunningStack
from tests.e2e.test_audit_two_regions import witness_key
from tests.support.audit_pipeline import (
    audit_pipeline,
    audit_settings,
    serving_witnesses,
    wait_witnessed,
)
from tests.support.cluster import running_cluster
from tests.support.isolated import settings_env
from tests.support.tenants import register, tenant
from workers.audit_ops import control_db
from workers.crr_control import start_crr
from workflows import queues
from workflows.audit_ids import anchor_workflow_id

pytestmark = pytest.mark.timeout(180)

ACME = tenant("cli-audit")
EVENTS = 5
runner = CliRunner()


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await audit_settings(running_stack, tmp_path, "cli_audit")
    await register(settings, ACME)
    return settings


@pytest.fixture
def env(settings: Settings, running_stack: RunningStack) -> dict[str, str]:
    return settings_env(settings, running_stack.config_path)


async def audit(env: dict[str, str], *args: str) -> Result:
    """`geoledger audit ARGS` loading exactly the test's settings."""
    return await asyncio.to_thread(runner.invoke, audit_app, list(args), env=env)


def by_region(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return {row["region"]: row for row in json.loads(result.stdout)}


async def backlog_of(env: dict[str, str], region: str, segments: int) -> dict[str, Any]:
    """`audit status --json` of `region` once its backlog has `segments` segments."""
    for _ in range(60):
        status = by_region(await audit(env, "status", "--region", region, "--json"))[region]
        if status["sample"]["backlog_segments"] == segments:
            return status
        await asyncio.sleep(0.5)
    raise AssertionError(f"expected a backlog of {segments} segments in {region}: {status}")


async def test_an_event_is_pending_until_anchored_then_proven_and_its_receipt_verified(
    settings: Settings, env: dict[str, str], tmp_path: Path
) -> None:
    async with serving_witnesses(settings), running_cluster(settings) as cluster:
        await start_crr(cluster.client, settings)
        await cluster.post("us", [ACME.event(f"us-{i}", {"i": i}) for i in range(EVENTS)])

        # No anchor workflow runs yet: the sealed segment waits, nothing is provable.
        waiting = await backlog_of(env, "us", 1)
        assert waiting["checkpoint"] is None and waiting["anchor"] is None
        none_yet = await audit(env, "checkpoint", "--region", "us")
        assert none_yet.exit_code == 5 and "no checkpoint yet in us" in none_yet.stderr
        pending = await audit(env, "prove", ACME.tenant_id, "us-1")
        assert pending.exit_code == 5, pending.output
        assert "not in a checkpoint of us's log yet" in " ".join(pending.stderr.split())

        async with audit_pipeline(cluster.client, settings, task_queue=queues.AUDIT):
            await wait_witnessed(settings, {"us": EVENTS})
            anchor = cluster.client.get_workflow_handle(anchor_workflow_id("us"))
            running = await anchor.describe()
            again = await audit(env, "start")
            assert again.exit_code == 0, again.output
            assert {anchor_workflow_id("us"), anchor_workflow_id("eu")} <= set(again.stdout.split())
            after = await anchor.describe()
            assert after.run_id == running.run_id
            assert after.status == WorkflowExecutionStatus.RUNNING

            # us's note is printed as stored; eu has no checkpoint yet, so the command exits 5.
            printed = await audit(env, "checkpoint")
            async with control_db(settings, "us") as db:
                note = await witnessed_note(db)
            assert note is not None and note["size"] == EVENTS
            assert printed.exit_code == 5 and "no checkpoint yet in eu" in printed.stderr
            assert note["note"] in printed.stdout
            lines = note["note"].splitlines()
            assert lines[0] == settings.audit.origin("us")
            assert any(line.startswith("\u2014 witness-eu ") for line in lines)

            anchored = by_region(await audit(env, "status", "--json"))
            us = anchored["us"]
            assert us["checkpoint"]["size"] == EVENTS
            assert us["sample"]["backlog_segments"] == 0 and us["sample"]["dlq_size"] == 0
            assert [(w["witness"], w["last_size"]) for w in us["witnesses"]] == [
                ("witness-eu", EVENTS)
            ]
            assert us["anchor"]["checkpoint_size"] == EVENTS
            assert anchored["eu"]["checkpoint"] is None

            witnesses = json.loads((await audit(env, "witnesses", "--json")).stdout)
            assert {(w["region"], w["witness"], w["last_size"]) for w in witnesses} == {
                ("us", "witness-eu", EVENTS),
                ("eu", "witness-us", None),
            }

            receipt = tmp_path / "receipt.json"
            proven = await audit(env, "prove", ACME.tenant_id, "us-1", "--out", str(receipt))
            assert proven.exit_code == 0, proven.output
            # Printed, not written: the same receipt, still JSON whatever the terminal's width.
            printed_receipt = await audit(env, "prove", ACME.tenant_id, "us-1")
            assert json.loads(printed_receipt.stdout) == json.loads(receipt.read_text())
            unknown = await audit(env, "prove", ACME.tenant_id, "never-sent")
            assert unknown.exit_code == 1, unknown.output

    verified = await audit(
        env,
        "verify",
        str(receipt),
        "--log-key",
        log_vkey(settings, "us"),
        "--witness-key",
        witness_key(settings, "us"),
    )
    assert verified.exit_code == 0, verified.output
    index = json.loads(receipt.read_text())["leaf_index"]
    assert f"leaf {index} of {EVENTS}" in verified.stdout and "witness-eu" in verified.stdout
    wrong = await audit(env, "verify", str(receipt), "--log-key", log_vkey(settings, "eu"))
    assert wrong.exit_code == 1, wrong.output


async def test_a_fork_mark_is_cleared_only_with_confirm_and_the_dlq_shows_what_it_holds(
    settings: Settings, env: dict[str, str]
) -> None:
    async with control_db(settings, "us") as db:
        await mark_fork(db, "witness-eu", "409: the witness cosigned a different tree of size 7")
        await dlq_add(
            db,
            task_type="attest_external",
            idempotency_key="attest@3",
            workflow_id=anchor_workflow_id("us"),
            input={"region": "us", "batch": 3},
            error="AuditForkDetected: refused",
            attempts=1,
        )

    def fork_of(rows: list[dict[str, Any]]) -> str | None:
        [row] = [row for row in rows if row["witness"] == "witness-eu"]
        return row["fork"]

    async def witnesses() -> list[dict[str, Any]]:
        listed = await audit(env, "witnesses", "--region", "us", "--json")
        assert listed.exit_code == 0, listed.output
        rows: list[dict[str, Any]] = json.loads(listed.stdout)
        return rows

    assert "different tree" in (fork_of(await witnesses()) or "")
    status = by_region(await audit(env, "status", "--region", "us", "--json"))["us"]
    assert status["sample"]["dlq_size"] == 1
    assert status["sample"]["forked_witnesses"] == ["witness-eu"]

    refused = await audit(env, "witness-reset", "witness-eu", "--region", "us")
    assert refused.exit_code == 2 and "--confirm" in refused.stderr
    assert fork_of(await witnesses()) is not None
    reset = await audit(env, "witness-reset", "witness-eu", "--region", "us", "--confirm")
    assert reset.exit_code == 0, reset.output
    assert fork_of(await witnesses()) is None

    unknown = await audit(env, "dlq", "show", "4242")
    assert unknown.exit_code == 2 and "no DLQ entry 4242" in unknown.stderr
