"""The APIs' server TLS (api/server_tls.py) on a real socket with a CA made in the test: a client
that trusts the CA is served, plain HTTP and an unknown CA are not, mutual TLS refuses a client
without a certificate, and a reload presents the new certificate to new connections only when the
new files make a usable pair."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.server_tls import ServerTls
from ledger.errors import ConfigError
from ledger.tls_config import TlsConfig
from tests.support.certificates import (
    Issued,
    LocalCa,
    assert_refuses_plain_http_and_unknown_cas,
    client_context,
    served_serial,
)

HOST = "127.0.0.1"
_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(_OK)
        await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass  # the refused handshakes of the tests
    finally:
        writer.close()


@pytest.fixture
def ca(tmp_path: Path) -> LocalCa:
    return LocalCa.create(tmp_path / "ca", "geoledger-test")


@pytest.fixture
def server_cert(ca: LocalCa, tmp_path: Path) -> Issued:
    return ca.issue(tmp_path / "server", "ingest")


async def _serve(server_tls: ServerTls) -> AsyncIterator[int]:
    server = await asyncio.start_server(_answer, HOST, 0, ssl=server_tls.context)
    async with server:
        yield server.sockets[0].getsockname()[1]


@pytest.fixture
def tls(server_cert: Issued) -> ServerTls:
    return ServerTls(TlsConfig(cert_file=server_cert.cert_file, key_file=server_cert.key_file))


@pytest.fixture
async def port(tls: ServerTls) -> AsyncIterator[int]:
    async for bound in _serve(tls):
        yield bound


async def test_client_trusting_the_ca_is_served(ca: LocalCa, port: int) -> None:
    async with httpx.AsyncClient(verify=client_context(ca.ca_file)) as http:
        answer = await http.get(f"https://{HOST}:{port}/")
    assert (answer.status_code, answer.text) == (200, "ok")


async def test_plain_http_and_an_unknown_ca_are_refused(port: int, tmp_path: Path) -> None:
    await assert_refuses_plain_http_and_unknown_cas(f"https://{HOST}:{port}/", tmp_path)


async def test_mutual_tls_serves_only_clients_with_a_certificate_of_its_ca(
    ca: LocalCa, server_cert: Issued, tmp_path: Path
) -> None:
    config = TlsConfig(
        cert_file=server_cert.cert_file, key_file=server_cert.key_file, client_ca_file=ca.ca_file
    )
    client = ca.issue(tmp_path / "client", "operator", client=True)
    stranger = LocalCa.create(tmp_path / "other", "stranger")
    foreign_client = stranger.issue(tmp_path / "foreign", "intruder", client=True)
    async for port in _serve(ServerTls(config)):
        url = f"https://{HOST}:{port}/"
        async with httpx.AsyncClient(verify=client_context(ca.ca_file, client)) as http:
            assert (await http.get(url)).status_code == 200
        for refused in (None, foreign_client):
            async with httpx.AsyncClient(verify=client_context(ca.ca_file, refused)) as http:
                with pytest.raises(httpx.TransportError):
                    await http.get(url)


async def test_reload_presents_the_new_certificate_to_new_connections(
    ca: LocalCa, server_cert: Issued, tls: ServerTls, port: int
) -> None:
    context = client_context(ca.ca_file)
    assert await asyncio.to_thread(served_serial, HOST, port, context) == server_cert.serial
    renewed = ca.issue(server_cert.cert_file.parent, "ingest")  # the same paths, rewritten
    assert tls.reload() == renewed.serial
    assert await asyncio.to_thread(served_serial, HOST, port, context) == renewed.serial


async def test_a_reload_of_a_bad_pair_keeps_the_certificate_in_use(
    ca: LocalCa, server_cert: Issued, tls: ServerTls, port: int, tmp_path: Path
) -> None:
    # A certificate written before its key: the files do not match for a moment.
    other = ca.issue(tmp_path / "other", "other")
    server_cert.cert_file.write_bytes(other.cert_file.read_bytes())
    with pytest.raises(ssl.SSLError):
        tls.reload()
    context = client_context(ca.ca_file)
    assert await asyncio.to_thread(served_serial, HOST, port, context) == server_cert.serial


def test_unreadable_files_are_a_config_error(tmp_path: Path) -> None:
    missing = TlsConfig(cert_file=tmp_path / "absent.pem", key_file=tmp_path / "absent-key.pem")
    with pytest.raises(ConfigError, match=r"\[tls\]"):
        ServerTls(missing)
