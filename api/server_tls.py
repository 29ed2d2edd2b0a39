"""The TLS side of the ingest and ops APIs: one server `ssl.SSLContext` built from `[tls]`, whose
certificate and key are loaded again on SIGHUP, and the uvicorn server that serves with it.

A certificate is renewed by replacing the files and sending SIGHUP: handshakes from then on
present the new certificate, connections already open keep the one they agreed on, and nothing
restarts. A reload that fails (a key that does not match, a file half written) leaves the
certificate in use as it was and says why on stderr.
"""

from __future__ import annotations

import signal
import ssl
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from cryptography import x509

from ledger.errors import ConfigError
from ledger.tls_config import TlsConfig

_ContextFactory = Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext]


class ServerTls:
    """The server context of `[tls]` (TLS 1.2 at least, the library's default ciphers), with the
    client-certificate check of `client_ca_file` when set."""

    def __init__(self, config: TlsConfig) -> None:
        if not config.enabled:
            raise ValueError("ServerTls needs [tls] cert_file and key_file")
        self.config = config
        try:
            self.context = self._new_context()
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"[tls]: {exc}") from None

    def _new_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])
        self._load_chain(context)
        if self.config.client_ca_file is not None:
            context.load_verify_locations(cafile=self.config.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _load_chain(self, context: ssl.SSLContext) -> None:
        assert self.config.cert_file is not None  # enabled, checked in __init__
        context.load_cert_chain(self.config.cert_file, self.config.key_file)

    def reload(self) -> int:
        """Load the certificate and key files again into the live context; returns the serial of
        the certificate now presented. Raises OSError / ssl.SSLError, with the live context
        unchanged, when the files do not make a usable pair."""
        # A pair that fails would leave the live context with a certificate and no matching key:
        # it is tried on a scratch context first.
        self._load_chain(ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))
        self._load_chain(self.context)
        return self.serial()

    def serial(self) -> int:
        """The serial number of the leaf certificate in `cert_file` (what a new handshake sees
        once loaded)."""
        assert self.config.cert_file is not None
        return x509.load_pem_x509_certificate(self.config.cert_file.read_bytes()).serial_number

    def uvicorn_context(
        self, config: uvicorn.Config, default: Callable[[], ssl.SSLContext]
    ) -> ssl.SSLContext:
        """uvicorn's `ssl_context_factory`: the live context instead of one uvicorn would build
        from the files once."""
        return self.context

    def reload_on_sighup(self) -> None:
        """Install the SIGHUP handler (main thread only, as every signal handler). It runs
        between two steps of the event loop, on its thread, so no handshake is half done."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the SIGHUP handler can only be installed from the main thread")

        def on_sighup(signum: int, frame: FrameType | None) -> None:
            try:
                serial = self.reload()
            except (OSError, ssl.SSLError) as exc:
                print(
                    f"tls: reload failed, serving the previous certificate: {exc}",
                    file=sys.stderr,
                    flush=True,
                )
                return
            print(
                f"tls: reloaded {self.config.cert_file} (serial {serial:x})",
                file=sys.stderr,
                flush=True,
            )

        signal.signal(signal.SIGHUP, on_sighup)


def serve(app: Any, host: str, port: int, tls: TlsConfig, log_level: str = "warning") -> None:
    """Serve `app` until interrupted: over HTTPS with a reloadable certificate when `[tls]` names
    one, plain HTTP otherwise (the default)."""
    factory: _ContextFactory | None = None
    if tls.enabled:
        server_tls = ServerTls(tls)
        server_tls.reload_on_sighup()
        factory = server_tls.uvicorn_context
    # log_config=None: uvicorn's records go through the handler [logging] configured
    # (storage/telemetry/json_logs.py) instead of handlers of its own.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        log_config=None,
        ssl_context_factory=factory,
    )
