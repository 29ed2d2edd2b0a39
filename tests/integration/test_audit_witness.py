"""The witness role (C2SP tlog-witness add-checkpoint) on the real stack: witness-eu, served by
uvicorn with its state in eu's control database, cosigning us's audit log; every request here
is a raw HTTP request, so what is checked is the witness alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ledger.cosignature import verify_cosignature
from ledger.signed_note import split_note
from ledger.witness_protocol import TLOG_SIZE_CONTENT_TYPE, build_add_checkpoint, checkpoint_path
from storage.audit.witness_client import WitnessTarget
from storage.audit.witness_state import latest
from tests.conftest import RunningStack
from tests.integration.witness_support import (
    ORIGIN,
    SigningLog,
    WitnessEnv,
    post,
    witness_env,
    witnessed_size,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def env(running_stack: RunningStack, tmp_path: Path) -> AsyncIterator[WitnessEnv]:
    async with witness_env(running_stack, tmp_path, "witness") as env:
        yield env


async def cosign(target: WitnessTarget, log: SigningLog, old: int, new: int) -> str:
    """The witness's cosignature of `log` at `new`, sent from `old`; it must verify."""
    answer = await post(target, build_add_checkpoint(old, log.proof(old, new), log.note(new)))
    assert answer.status_code == 200, answer.text
    assert verify_cosignature(answer.text, split_note(log.note(new))[0], target.vkey) > 0
    return answer.text


async def served_checkpoint(target: WitnessTarget) -> tuple[int, str]:
    """What the witness serves to monitors for us's log."""
    async with httpx.AsyncClient() as http:
        answer = await http.get(target.url + checkpoint_path(ORIGIN))
    return answer.status_code, answer.text


async def test_cosigns_then_advances_and_persists_before_answering(env: WitnessEnv) -> None:
    log, target, eu, _ = env
    assert (await served_checkpoint(target))[0] == 404
    await cosign(target, log, 0, 3)
    assert await witnessed_size(eu) == 3
    line = await cosign(target, log, 3, 7)
    state = await latest(eu, ORIGIN)
    # Stored before the answer: the log's signed note with the witness's cosignature.
    assert state is not None and (state.size, state.note) == (7, log.note(7) + line)
    assert await served_checkpoint(target) == (200, log.note(7) + line)
    await cosign(target, log, 7, 7)  # the same checkpoint again is cosigned again


async def test_rollback_is_refused_with_the_latest_size(env: WitnessEnv) -> None:
    log, target, eu, _ = env
    await cosign(target, log, 0, 7)
    for old in (5, 7):  # the spec's 409 (old size not the latest) and its 400 (old > size)
        answer = await post(target, build_add_checkpoint(old, [], log.note(5)))
        assert (answer.status_code, answer.text) == (409, "7\n")
        assert answer.headers["content-type"].startswith(TLOG_SIZE_CONTENT_TYPE)
    assert await witnessed_size(eu) == 7


async def test_a_forged_checkpoint_is_refused_with_the_latest_size(env: WitnessEnv) -> None:
    log, target, eu, _ = env
    await cosign(target, log, 0, 7)
    forged = SigningLog(log.signer, tag=b"forged")  # the log's key, another tree
    same_size = await post(target, build_add_checkpoint(7, [], forged.note(7)))
    longer = await post(target, build_add_checkpoint(7, forged.proof(7, 9), forged.note(9)))
    assert [(a.status_code, a.text) for a in (same_size, longer)] == [(409, "7\n")] * 2
    state = await latest(eu, ORIGIN)
    assert state is not None and state.note.startswith(log.note(7))


async def test_bad_input_is_refused_and_changes_nothing(env: WitnessEnv) -> None:
    log, target, eu, _ = env
    await cosign(target, log, 0, 3)
    note = log.note(5)
    at = note.rindex(" ") + 5
    bad_signature = note[:at] + ("A" if note[at] != "A" else "B") + note[at + 1 :]
    proof = log.proof(3, 5)
    cases = {
        "bad signature": (build_add_checkpoint(3, proof, bad_signature), 403),
        "unsigned": (build_add_checkpoint(3, proof, split_note(note)[0] + "\n"), 400),
        "other key": (build_add_checkpoint(3, proof, note.replace("— ", "— x")), 403),
        "unknown origin": (
            build_add_checkpoint(3, proof, note.replace(ORIGIN, "geoledger.example/audit/mars")),
            404,
        ),
        "malformed body": (b"old three\n\n" + note.encode(), 400),
        "old above size": (build_add_checkpoint(6, proof, note), 400),
        "proof from 0": (build_add_checkpoint(0, proof, note), 422),
        "bad proof": (build_add_checkpoint(3, [bytes(32)] * len(proof), note), 409),
    }
    for case, (body, status) in cases.items():
        answer = await post(target, body)
        assert answer.status_code == status, (case, answer.text)
    assert await witnessed_size(eu) == 3


async def test_two_racing_checkpoints_cannot_both_advance(env: WitnessEnv) -> None:
    log, target, eu, _ = env
    await cosign(target, log, 0, 3)
    answers = await asyncio.gather(
        *(post(target, build_add_checkpoint(3, log.proof(3, n), log.note(n))) for n in (5, 8))
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert await witnessed_size(eu) in (5, 8)
