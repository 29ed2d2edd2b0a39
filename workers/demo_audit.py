"""The demo's audit step: wait until each region's Merkle log holds every record of its own
streams in a checkpoint its witness (the other region) cosigned, then prove one event and verify
the receipt offline - by `geoledger audit verify` in a process of its own, given only the receipt
file and the two public keys."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger.config import Settings
from ledger.receipt import VerifiedReceipt, render_receipt
from ledger.stream_id import StreamId
from storage.audit.cosigned import WitnessedNote, witnessed_note
from storage.audit.log_keys import log_vkey, witness_vkeys
from storage.embedded.apps import geoledger_command
from workers.audit_ops import control_db
from workers.audit_prove import prove_event


@dataclass(frozen=True)
class VerifiedDemoReceipt:
    """The receipt written, the command that verified it, and what that command printed."""

    path: Path
    command: list[str]
    output: VerifiedReceipt


async def wait_witnessed(
    settings: Settings, sizes: Mapping[str, int], timeout_s: float = 120.0
) -> dict[str, WitnessedNote]:
    """Each region's latest checkpoint once it holds at least `sizes[region]` leaves and a
    witness cosigned it. Raises TimeoutError naming where each region stands."""
    deadline = time.monotonic() + timeout_s
    seen: dict[str, WitnessedNote] = {}
    while True:
        for region in sizes:
            async with control_db(settings, region) as db:
                note = await witnessed_note(db)
            if note is not None:
                seen[region] = note
        done = {r: n for r, n in seen.items() if n["size"] >= sizes[r] and n["witnesses"]}
        if len(done) == len(sizes):
            return done
        if time.monotonic() > deadline:
            where = {r: (n["size"], n["witnesses"]) for r, n in seen.items()}
            raise TimeoutError(f"audit logs not witnessed at sizes {dict(sizes)}: {where}")
        await asyncio.sleep(0.5)


def records_per_region(settings: Settings, last_seq: Mapping[str, int]) -> dict[str, int]:
    """The records of each region's own streams, given each stream's last seq."""
    return {
        region: sum(
            seq for stream, seq in last_seq.items() if StreamId.parse(stream).region == region
        )
        for region in settings.regions
    }


async def prove_and_verify(
    settings: Settings, tenant_id: str, event_id: str, state_dir: Path
) -> VerifiedDemoReceipt:
    """Prove `tenant_id/event_id`, write the receipt under `state_dir`, and verify it with
    `geoledger audit verify` (no configuration, no service). Raises RuntimeError with the
    command's output when it does not verify."""
    proven = await prove_event(settings, tenant_id, event_id)
    path = state_dir / f"receipt-{tenant_id}-{event_id}.json"
    path.write_text(render_receipt(proven.receipt), encoding="utf-8")
    region = proven.receipt.region
    command = [
        geoledger_command(),
        "audit",
        "verify",
        str(path),
        "--log-key",
        log_vkey(settings, region),
    ]
    for key in witness_vkeys(settings, region):
        command += ["--witness-key", key]
    command.append("--json")
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[1:3])} exited {done.returncode}: {done.stderr or done.stdout}"
        )
    return VerifiedDemoReceipt(path, command, VerifiedReceipt.model_validate_json(done.stdout))
