"""The log's side of witnessing on the real stack: the add-checkpoint client against a served
witness (catch-up, fork detection) and the circuit breaker with its stored cosignatures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from ledger.cosignature import verify_cosignature
from ledger.signed_note import split_note
from storage.audit.errors import AuditForkDetected
from storage.audit.witness_attest import WitnessOutcome, attest_checkpoint
from storage.audit.witness_client import submit_checkpoint
from storage.audit.witness_cosignatures import cosignatures_for
from storage.audit.witness_health import open_witnesses
from storage.audit.witness_keys import witness_targets
from tests.conftest import RunningStack
from tests.integration.witness_support import (
    SigningLog,
    WitnessEnv,
    serving,
    witness_env,
    witness_settings,
    witness_target,
    witnessed_size,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def env(running_stack: RunningStack, tmp_path: Path) -> AsyncIterator[WitnessEnv]:
    async with witness_env(running_stack, tmp_path, "witness_client") as env:
        yield env


async def test_cosigns_and_advances(env: WitnessEnv) -> None:
    log, target, eu, _ = env
    await submit_checkpoint(target, log.note(3), 0, [])
    line = await submit_checkpoint(target, log.note(7), 3, log.proof(3, 7))
    assert verify_cosignature(line, split_note(log.note(7))[0], target.vkey) > 0
    assert await witnessed_size(eu) == 7


async def test_a_forged_checkpoint_raises_fork_detected(env: WitnessEnv) -> None:
    log, target, _, _ = env
    await submit_checkpoint(target, log.note(7), 0, [])
    forged = SigningLog(log.signer, tag=b"forged")
    # The witness says 7, the size we asked at; re-sent from 7 it refuses again: a fork.
    with pytest.raises(AuditForkDetected) as same_size:
        await submit_checkpoint(
            target, forged.note(7), 0, [], proof_from=lambda old: forged.proof_to(7, old)
        )
    assert (same_size.value.our_size, same_size.value.witness_size) == (7, 7)
    with pytest.raises(AuditForkDetected) as larger:  # it cosigned more than we have
        await submit_checkpoint(target, log.note(5), 0, [], proof_from=lambda o: [])
    assert (larger.value.our_size, larger.value.witness_size) == (5, 7)


async def test_a_witness_that_missed_checkpoints_catches_up_with_one_proof(
    env: WitnessEnv,
) -> None:
    log, target, eu, _ = env
    await submit_checkpoint(target, log.note(3), 0, [])
    # Sizes 5 and 7 never reached it, and the log sends as if it knew nothing (old size 0).
    asked: list[int] = []

    async def proof_from(old: int) -> list[bytes]:
        asked.append(old)
        return log.proof(old, 10)

    line = await submit_checkpoint(target, log.note(10), 0, [], proof_from=proof_from)
    assert asked == [3]
    assert verify_cosignature(line, split_note(log.note(10))[0], target.vkey) > 0
    assert await witnessed_size(eu) == 10


async def test_breaker_opens_after_k_failures_and_closes_after_the_cool_down(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    settings = await witness_settings(running_stack, tmp_path, "breaker")
    log, target = SigningLog.of(settings), witness_target(settings)
    us = await asyncpg.create_pool(settings.region("us").control_dsn, min_size=1, max_size=2)

    async def attest(batch: int, size: int) -> WitnessOutcome:
        return await attest_checkpoint(
            us,
            target,
            batch=batch,
            note=log.note(size),
            size=size,
            proof_from=lambda old: log.proof_to(size, old),
            open_after=2,
            cooldown_s=1.0,
        )

    try:
        async with serving(settings):
            assert (await attest(1, 3)).cosignature is not None
        # The witness process is down: two failures open the breaker, the third is skipped.
        outcomes = [await attest(2, 5), await attest(3, 7), await attest(4, 8)]
        assert [o.skipped for o in outcomes] == [False, False, True]
        assert all(o.error for o in outcomes)
        assert await open_witnesses(us) == [target.name]
        await asyncio.sleep(1.1)
        async with serving(settings):
            caught_up = await attest(5, 10)  # from 3, the size it last cosigned
        assert caught_up.cosignature is not None and caught_up.cosignature.size == 10
        assert await open_witnesses(us) == []
        assert await cosignatures_for(us, 5) == [caught_up.cosignature]
        assert [c.size for c in await cosignatures_for(us, 1)] == [3]
    finally:
        await us.close()


def test_each_embedded_region_is_witnessed_by_the_other(running_stack: RunningStack) -> None:
    settings = running_stack.settings
    witnesses = {
        region: [t.name for t in witness_targets(settings, f"geoledger.example/audit/{region}")]
        for region in settings.regions
    }
    assert witnesses == {"us": ["witness-eu"], "eu": ["witness-us"]}
