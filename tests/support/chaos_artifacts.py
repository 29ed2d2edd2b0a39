"""One folder per chaos run and test for what a failed run needs to be understood afterwards:
the processes' logs, the scraped /metrics texts, watermarks, replay and geo-check reports, and
the alert timeline.

The folder is `$GEOLEDGER_CHAOS_ARTIFACTS/<run>/<test>/` (CI points the variable at the folder it
uploads), by default under `.geoledger/chaos/` of the repository, which git ignores. `<run>` is
the UTC time the test session started, so the tests of one `make test` share it.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import REPO_ROOT

ARTIFACTS_ENV = "GEOLEDGER_CHAOS_ARTIFACTS"
RUN_STAMP = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def artifacts_root() -> Path:
    configured = os.environ.get(ARTIFACTS_ENV)
    return Path(configured) if configured else REPO_ROOT / ".geoledger" / "chaos"


@dataclass(frozen=True)
class ChaosArtifacts:
    folder: Path

    @classmethod
    def for_test(cls, test_name: str) -> ChaosArtifacts:
        # pytest's parametrised names carry brackets and slashes: keep a plain folder name.
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        folder = artifacts_root() / RUN_STAMP / safe
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder)

    @property
    def logs(self) -> Path:
        """Where the test's processes write their logs (tests.support.processes.ProcessGroup)."""
        return self.folder / "logs"

    def write_json(self, name: str, value: Any) -> Path:
        path = self.folder / f"{name}.json"
        path.write_text(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
        return path

    async def snapshot_metrics(self, label: str, targets: dict[str, str]) -> None:
        """The /metrics text of each `name: address` target, as scraped now, into
        metrics/<label>/<name>.txt; a target that does not answer gets its error instead."""
        directory = self.folder / "metrics" / label
        directory.mkdir(parents=True, exist_ok=True)
        async with httpx.AsyncClient(timeout=3) as client:
            for name, address in targets.items():
                try:
                    text = (await client.get(f"http://{address}/metrics")).text
                except httpx.TransportError as exc:
                    text = f"# scrape of {address} failed: {exc!r}\n"
                (directory / f"{name}.txt").write_text(text)
