"""The ingest and ops APIs over TLS, as `geoledger ingest serve` and `geoledger ops serve` run them
with [tls] naming certificates of a CA made in the test: a client trusting the CA is answered,
plain HTTP and a client trusting another CA are not; SIGHUP makes the running node present a
renewed certificate to new connections; the ops API with client_ca_file refuses a client without
a certificate of that CA."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from ledger.config import Settings
from ledger.tls_config import TlsConfig
from storage.embedded.process import free_port
from tests.conftest import RunningStack
from tests.support.certificates import (
    LocalCa,
    assert_refuses_plain_http_and_unknown_cas,
    client_context,
    served_serial,
)
from tests.support.isolated import isolated_settings
from tests.support.processes import (
    START_TIMEOUT_S,
    ProcessGroup,
    geoledger_env,
    start_ingest_node,
)

pytestmark = pytest.mark.timeout(120)

REGION = "us"
HOST = "127.0.0.1"
OPS_TOKEN = "operator-token-for-the-tls-test"  # pragma: allowlist secret (this test's own)


@pytest.fixture
def ca(tmp_path: Path) -> LocalCa:
    return LocalCa.create(tmp_path / "ca", "geoledger-test")


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    return await isolated_settings(running_stack, tmp_path, "api_tls")


async def test_ingest_node_serves_https_and_renews_its_certificate_on_sighup(
    running_stack: RunningStack, settings: Settings, ca: LocalCa, tmp_path: Path
) -> None:
    served = ca.issue(tmp_path / "tls", "ingest")
    settings = settings.model_copy(
        update={"tls": TlsConfig(cert_file=served.cert_file, key_file=served.key_file)}
    )
    trusting = client_context(ca.ca_file)
    group = ProcessGroup(tmp_path / "logs")
    try:
        node = await start_ingest_node(
            group, settings, running_stack.config_path, REGION, verify=trusting
        )
        port = settings.region(REGION).nodes[0].port
        async with httpx.AsyncClient(verify=trusting) as http:
            assert (await http.get(f"https://{HOST}:{port}/healthz")).status_code == 200
        await assert_refuses_plain_http_and_unknown_cas(f"https://{HOST}:{port}/healthz", tmp_path)

        assert await asyncio.to_thread(served_serial, HOST, port, trusting) == served.serial
        renewed = ca.issue(served.cert_file.parent, "ingest")  # the same paths, rewritten
        node.process.popen.send_signal(signal.SIGHUP)
        await node.process.wait_for_log(f"(serial {renewed.serial:x})", timeout_s=10)
        assert await asyncio.to_thread(served_serial, HOST, port, trusting) == renewed.serial
        node.process.check_alive("answering after the reload")
    finally:
        group.close()


async def test_ops_api_with_client_ca_answers_only_clients_with_its_certificates(
    running_stack: RunningStack, settings: Settings, ca: LocalCa, tmp_path: Path
) -> None:
    served = ca.issue(tmp_path / "tls", "ops")
    operator = ca.issue(tmp_path / "tls", "operator", client=True)
    settings = settings.model_copy(
        update={
            "tls": TlsConfig(
                cert_file=served.cert_file, key_file=served.key_file, client_ca_file=ca.ca_file
            )
        }
    )
    port = free_port()
    env = geoledger_env(settings, running_stack.config_path) | {"GEOLEDGER_OPS_TOKEN": OPS_TOKEN}
    url = f"https://{HOST}:{port}/v1/ops/shards"
    bearer = {"Authorization": f"Bearer {OPS_TOKEN}"}
    group = ProcessGroup(tmp_path / "logs")
    try:
        process = group.start("ops", ["ops", "serve", "--port", str(port)], env)
        async with httpx.AsyncClient(verify=client_context(ca.ca_file, operator)) as http:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                process.check_alive("listening")
                try:
                    answer = await http.get(url, headers=bearer)
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, process.log_tail()
                    await asyncio.sleep(0.1)
            assert answer.status_code == 200, answer.text
        async with httpx.AsyncClient(verify=client_context(ca.ca_file)) as http:
            with pytest.raises(httpx.TransportError):
                await http.get(url, headers=bearer)
    finally:
        group.close()
