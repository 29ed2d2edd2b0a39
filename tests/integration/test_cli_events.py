"""`geoledger events sign | get` and `geoledger ingest send` as an operator runs them: real
`geoledger` processes against a real ingest node process (`geoledger ingest serve`), over
databases of their own on the session's PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.config import Settings
from ledger.envelope import parse_signed_event
from ledger.keys import private_key_to_pem
from ledger.signing import verify
from tests.conftest import REPO_ROOT, RunningStack
from tests.support.isolated import isolated_settings, settings_env
from tests.support.processes import CommandOutcome, run_geoledger
from tests.support.tenants import register, tenant

pytestmark = pytest.mark.timeout(180)

GEOLEDGER = Path(sys.executable).parent / "geoledger"
# Interpreter start-up and imports on a loaded 2-core machine take several seconds.
COMMAND_TIMEOUT_S = 60.0
NODE_START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
ACME = tenant("acme")
GHOST = tenant("ghost")  # never registered


@pytest.fixture(scope="module")
async def settings(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    settings = await isolated_settings(
        running_stack, tmp_path_factory.mktemp("cli-events"), "clievents"
    )
    await register(settings, ACME)
    return settings


@pytest.fixture(scope="module")
def env(settings: Settings, running_stack: RunningStack) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GEOLEDGER_")}
    # Wide enough that rich does not wrap the error messages the assertions read.
    return {**inherited, **settings_env(settings, running_stack.config_path), "COLUMNS": "500"}


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-events-key") / "acme.pem"
    path.write_bytes(private_key_to_pem(ACME.private_key))
    return path


@pytest.fixture(scope="module")
async def node_url(
    settings: Settings, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """`geoledger ingest serve --region us` on the isolated node port, once /healthz answers."""
    port = settings.region("us").nodes[0].port
    log_path = tmp_path_factory.mktemp("cli-events-node") / "node.log"
    with log_path.open("wb") as log:
        node = await asyncio.create_subprocess_exec(
            str(GEOLEDGER),
            *("ingest", "serve", "--region", "us", "--port", str(port)),
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(node, url, log_path)
        yield url
    finally:
        await _stop(node)


async def _wait_healthy(node: asyncio.subprocess.Process, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + NODE_START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        while True:
            if node.returncode is not None:
                log = await asyncio.to_thread(log_path.read_text, errors="replace")
                raise AssertionError(f"ingest node exited with {node.returncode}:\n{log[-3000:]}")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise AssertionError(f"{url}/healthz not 200 within {NODE_START_TIMEOUT_S}s")
            await asyncio.sleep(0.1)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_S."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()


async def geoledger(env: dict[str, str], *args: str) -> CommandOutcome:
    return await run_geoledger(env, *args, timeout_s=COMMAND_TIMEOUT_S)


def envelope(event_id: str, n: int) -> dict[str, Any]:
    """An unsigned envelope of ACME without key_id: `events sign` fills it in from the key."""
    return {
        "tenant_id": ACME.tenant_id,
        "event_id": event_id,
        "occurred_at": "2026-11-25T12:00:00Z",
        "type": "order.created",
        "payload": {"n": n, "note": "naïve café"},
    }


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


async def test_sign_fills_in_the_key_id_and_signs_every_envelope(
    env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    envelopes = [envelope(f"sign-{i}", i) for i in range(5)]
    lines = [json.dumps(e) for e in envelopes]
    source = write_lines(tmp_path / "unsigned.ndjson", [*lines[:2], "", *lines[2:]])

    result = await geoledger(env, "events", "sign", str(source), "--key", str(key_file))

    assert result.code == 0, result.stderr
    signed = [parse_signed_event(json.loads(line)) for line in result.stdout.splitlines()]
    assert [event.event_id for event in signed] == [e["event_id"] for e in envelopes]
    for event, original in zip(signed, envelopes, strict=True):
        assert event.key_id == ACME.key_id
        assert event.envelope_dict() == {**original, "key_id": ACME.key_id}
        assert verify(ACME.private_key.public_key(), event), event.event_id
    # The same envelopes signed under another key do not verify under ACME's.
    assert not any(verify(GHOST.private_key.public_key(), event) for event in signed)


async def test_sign_stops_at_a_bad_line_naming_it_and_writes_nothing(
    env: dict[str, str], key_file: Path, tmp_path: Path
) -> None:
    bad = {**envelope("sign-bad", 2), "occurred_at": "yesterday"}
    source = write_lines(
        tmp_path / "unsigned.ndjson",
        [json.dumps(envelope("sign-ok", 1)), "", json.dumps(bad), json.dumps(envelope("x", 3))],
    )
    out = tmp_path / "signed.ndjson"

    result = await geoledger(
        env, "events", "sign", str(source), "--key", str(key_file), "--out", str(out)
    )

    assert result.code == 2, (result.stdout, result.stderr)
    assert "line 3" in result.said and "occurred_at" in result.said, result.stderr
    assert not out.exists()
    assert result.stdout == ""


async def test_send_accepts_a_file_then_reports_every_event_a_duplicate(
    env: dict[str, str], node_url: str, tmp_path: Path
) -> None:
    # 1200 events: more than one request batch, so the summary adds up several answers.
    lines = [ACME.line(f"send-{i}", {"i": i}) for i in range(1200)]
    source = write_lines(tmp_path / "signed.ndjson", lines)
    send = ("ingest", "send", str(source), "--region", "us", "--url", node_url, "--json")

    first = await geoledger(env, *send)
    again = await geoledger(env, *send)

    assert first.code == 0, first.stderr
    summary = json.loads(first.stdout)  # the progress bar must not have written to stdout
    assert summary["results"] == {"accepted": len(lines)}
    assert summary["reasons"] == {}
    assert summary["url"] == node_url
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["results"] == {"duplicate": len(lines)}


async def test_send_counts_rejections_by_reason_and_exits_1(
    env: dict[str, str], node_url: str, tmp_path: Path
) -> None:
    good = [ACME.line(f"mixed-{i}") for i in range(3)]
    source = write_lines(tmp_path / "mixed.ndjson", [*good[:2], GHOST.line("mixed-ghost"), good[2]])

    result = await geoledger(
        env, "ingest", "send", str(source), "--region", "us", "--url", node_url, "--json"
    )

    assert result.code == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["results"] == {"accepted": 3, "rejected": 1}
    assert summary["reasons"] == {"tenant.unknown": 1}


async def test_send_of_a_missing_file_exits_2_naming_it(
    env: dict[str, str], node_url: str, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-file.ndjson"

    result = await geoledger(
        env, "ingest", "send", str(missing), "--region", "us", "--url", node_url, "--json"
    )

    assert result.code == 2, (result.stdout, result.stderr)
    assert str(missing) in result.said
    assert result.stdout == ""


async def test_get_prints_the_stored_envelope_with_its_stream_and_seq(
    env: dict[str, str], node_url: str
) -> None:
    sent = [ACME.event(f"get-{i}", {"i": i}) for i in range(3)]
    async with httpx.AsyncClient(base_url=node_url, timeout=30) as client:
        answer = await client.post("/v1/events", json={"events": sent})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * 3

    found = await geoledger(env, "events", "get", "acme", "get-1", "--region", "us", "--json")
    missing = await geoledger(env, "events", "get", "acme", "get-404", "--region", "us", "--json")

    assert found.code == 0, found.stderr
    stored = json.loads(found.stdout)
    assert stored["event"] == sent[1]
    assert stored["stream"] == "us/n1"
    assert stored["seq"] == results[1]["seq"]
    assert missing.code == 1, (missing.stdout, missing.stderr)
    assert "get-404" in missing.said and missing.stdout == ""
