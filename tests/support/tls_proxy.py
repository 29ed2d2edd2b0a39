"""A TLS-terminating TCP proxy that requires client certificates, for a server that cannot speak
TLS itself: the embedded Temporal dev server (`temporal server start-dev` has no TLS flags). It
accepts a connection only after a handshake in which the client presented a certificate of the
given CA, then copies bytes both ways to the plaintext upstream."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.certificates import Issued

HOST = "127.0.0.1"


def _server_context(server: Issued, client_ca_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server.cert_file, server.key_file)
    context.load_verify_locations(cafile=client_ca_file)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])  # gRPC
    return context


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass  # either side going away ends the copy
    finally:
        writer.close()


@dataclass
class TlsProxy:
    address: str
    # Connections whose handshake succeeded (a client certificate of the CA was presented).
    accepted: int = 0


@contextlib.asynccontextmanager
async def mutual_tls_proxy(
    upstream: str, server: Issued, client_ca_file: Path
) -> AsyncIterator[TlsProxy]:
    """Yields the running proxy; `upstream` is the plaintext `host:port` behind it."""
    up_host, up_port = upstream.rsplit(":", 1)
    state = TlsProxy(address="")

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio calls this only once the handshake, client certificate included, succeeded.
        state.accepted += 1
        up_reader, up_writer = await asyncio.open_connection(up_host, int(up_port))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    proxy = await asyncio.start_server(
        forward, HOST, 0, ssl=_server_context(server, client_ca_file)
    )
    state.address = f"{HOST}:{proxy.sockets[0].getsockname()[1]}"
    async with proxy:
        yield state
