"""Toxiproxy (github.com/Shopify/toxiproxy, built from its Go module by `make toxiproxy`) as a
latency and fault proxy between a test's processes and a service: its REST API creates proxies
and adds or removes toxics while traffic flows.

The binary is `.venv/toxiproxy/server` (or $GEOLEDGER_TOXIPROXY). Without it a test that needs
it fails in CI (CI=true), where the Makefile builds it, and skips on a workstation without Go.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from ledger.config import Settings
from storage.embedded.process import free_port
from tests.support.processes import REPO_ROOT
from tests.support.tool_process import ToolProcess, spawn

TOXIPROXY_ENV = "GEOLEDGER_TOXIPROXY"
DEFAULT_BINARY = REPO_ROOT / ".venv" / "toxiproxy" / "server"


def store_proxy(region: str) -> str:
    """The name of the proxy in front of `region`'s object store."""
    return f"store-{region}"


async def proxied_object_stores(settings: Settings, toxiproxy: Toxiproxy) -> Settings:
    """`settings` with each region's object store reached through its proxy (store_proxy)."""
    regions = {}
    for name, region in settings.regions.items():
        endpoint = urlparse(region.object_store.endpoint_url)
        listen = await toxiproxy.proxy(store_proxy(name), endpoint.netloc)
        store = region.object_store.model_copy(
            update={"endpoint_url": f"{endpoint.scheme}://{listen}"}
        )
        regions[name] = region.model_copy(update={"object_store": store})
    return settings.model_copy(update={"regions": regions})


def toxiproxy_binary() -> Path:
    path = Path(os.environ.get(TOXIPROXY_ENV, DEFAULT_BINARY))
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"toxiproxy is not at {path}; `make toxiproxy` builds it (needs Go)")
        pytest.skip(f"toxiproxy is not at {path}: `make toxiproxy` builds it (needs Go)")
    return path


@dataclass
class Toxiproxy:
    process: ToolProcess
    api: str

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        async with httpx.AsyncClient(base_url=self.api, timeout=5) as client:
            answer = await client.request(method, path, json=body)
        assert answer.is_success, f"toxiproxy {method} {path}: {answer.status_code} {answer.text}"

    async def proxy(self, name: str, upstream: str) -> str:
        """A new proxy to `upstream` (host:port); returns the host:port it listens on."""
        listen = f"127.0.0.1:{free_port()}"
        await self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream})
        return listen

    async def add_latency(self, proxy: str, latency_ms: int, jitter_ms: int = 0) -> None:
        """Every chunk of the upstream's answers delayed by `latency_ms` (toxic `latency`)."""
        await self._call(
            "POST",
            f"/proxies/{proxy}/toxics",
            {
                "name": "latency",
                "type": "latency",
                "stream": "downstream",
                "attributes": {"latency": latency_ms, "jitter": jitter_ms},
            },
        )

    async def set_enabled(self, proxy: str, enabled: bool) -> None:
        """Disabled, the proxy closes its connections and refuses new ones."""
        await self._call("POST", f"/proxies/{proxy}", {"enabled": enabled})

    async def remove_toxic(self, proxy: str, toxic: str) -> None:
        await self._call("DELETE", f"/proxies/{proxy}/toxics/{toxic}")

    def stop(self) -> None:
        self.process.stop()


async def start_toxiproxy(log_path: Path) -> Toxiproxy:
    """The server on a free loopback port; returns once its API answers."""
    port = free_port()
    args = [str(toxiproxy_binary()), "-host", "127.0.0.1", "-port", str(port)]
    proxy = Toxiproxy(spawn("toxiproxy", args, log_path), f"http://127.0.0.1:{port}")
    await proxy.process.wait_ready(f"{proxy.api}/version")
    return proxy
