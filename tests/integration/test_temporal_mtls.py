"""Every Temporal client this project opens (workers/client.py) speaks mutual TLS when [temporal]
names a client certificate: with it the client connects and is answered, without it the frontend
refuses the connection.

The embedded dev server cannot serve TLS (`temporal server start-dev` of temporal CLI 1.9.1 has no
TLS flags: `--tls-cert-path` is refused as an unknown flag; the global --tls-* options configure
the CLI as a client), so TLS is terminated by a proxy in front of it that requires a client
certificate of the test's CA (tests/support/tls_proxy.py). The handshake is the SDK's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from ledger.config import Settings
from tests.conftest import RunningStack
from tests.support.certificates import LocalCa
from tests.support.tls_proxy import mutual_tls_proxy
from workers.client import connect

pytestmark = pytest.mark.timeout(60)


def _through(settings: Settings, address: str, **tls: Path | str | None) -> Settings:
    temporal = settings.temporal.model_copy(update={"address": address, **tls})
    return settings.model_copy(update={"temporal": temporal})


async def test_a_client_with_the_certificate_connects_and_one_without_is_refused(
    running_stack: RunningStack, tmp_path: Path
) -> None:
    ca = LocalCa.create(tmp_path, "temporal-test")
    frontend = ca.issue(tmp_path, "frontend")
    worker = ca.issue(tmp_path, "worker", client=True)
    settings = running_stack.settings
    async with mutual_tls_proxy(running_stack.temporal_address, frontend, ca.ca_file) as proxy:
        with_cert = _through(
            settings,
            proxy.address,
            tls_server_ca_file=ca.ca_file,
            tls_client_cert_file=worker.cert_file,
            tls_client_key_file=worker.key_file,
            tls_server_name="localhost",
        )
        client = await connect(with_cert)
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=settings.temporal.namespace)
        )
        assert described.namespace_info.name == settings.temporal.namespace

        without_cert = _through(
            settings, proxy.address, tls_server_ca_file=ca.ca_file, tls_server_name="localhost"
        )
        accepted = proxy.accepted
        # TLS 1.3: the client learns of the refusal as a closed connection, not a TLS alert, so
        # the proof that the handshake refused it is that the proxy accepted no connection.
        with pytest.raises(RuntimeError, match="Failed client connect"):
            await connect(without_cert)
        assert proxy.accepted == accepted
