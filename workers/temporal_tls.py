"""The TLS of every Temporal client, from the TLS fields of `[temporal]` (ledger/tls_config.py):
a plaintext connection when none is set (the embedded dev server), otherwise TLS verified against
`tls_server_ca_file` (or the system's CAs) presenting the client certificate when one is set."""

from __future__ import annotations

from pathlib import Path

from temporalio.service import TLSConfig

from ledger.errors import ConfigError
from ledger.tls_config import TemporalTlsFields


def temporal_tls(fields: TemporalTlsFields) -> TLSConfig | bool:
    """What `Client.connect(tls=...)` takes: False for plaintext, else the TLSConfig.

    Raises ConfigError naming the setting whose file cannot be read (the files are read once per
    connect: a renewed client certificate is used by the next client, i.e. after a restart)."""
    if not fields.tls_enabled:
        return False
    return TLSConfig(
        server_root_ca_cert=_read("tls_server_ca_file", fields.tls_server_ca_file),
        domain=fields.tls_server_name,
        client_cert=_read("tls_client_cert_file", fields.tls_client_cert_file),
        client_private_key=_read("tls_client_key_file", fields.tls_client_key_file),
    )


def _read(setting: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"[temporal] {setting}: {exc}") from None
