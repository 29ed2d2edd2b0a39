"""Settings of TLS: `[tls]` for the ingest and ops APIs, and the fields `[temporal]` uses to reach
a Temporal frontend that requires mutual TLS.

Only file paths are settings: the private keys stay in files the deployment mounts (a Kubernetes
secret, a secrets manager's agent), never in the configuration or the repo (ARCHITECTURE §5).
Both are off by default, which is today's behaviour: plain HTTP and a plaintext gRPC connection.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator


class TlsConfig(BaseModel):
    """[tls]: the certificate the ingest and ops APIs present, and optionally the CA their clients'
    certificates must chain to (mutual TLS). `geoledger ingest serve` and `geoledger ops serve`
    re-read `cert_file` and `key_file` on SIGHUP; a new `client_ca_file` needs a restart."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # PEM certificate chain (leaf first) and its PEM private key; TLS is on when cert_file is set.
    cert_file: Path | None = None
    key_file: Path | None = None
    # PEM bundle of the CAs that sign client certificates; set, a client without one is refused.
    client_ca_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file are set together or not at all")
        if self.client_ca_file is not None and self.cert_file is None:
            raise ValueError("client_ca_file needs cert_file and key_file (mutual TLS is TLS)")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


class TemporalTlsFields(BaseModel):
    """The TLS fields of [temporal], used by every Temporal client this project opens
    (workers/client.py). TLS is on when any of them is set; with no `tls_server_ca_file` the
    system's trusted CAs verify the frontend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # The client certificate chain and key presented to a frontend that requires mutual TLS.
    tls_client_cert_file: Path | None = None
    tls_client_key_file: Path | None = None
    # The CA that signed the frontend's certificate.
    tls_server_ca_file: Path | None = None
    # The name the frontend's certificate is checked against, when it differs from the host of
    # `address` (an IP address, a load balancer).
    tls_server_name: str | None = None

    @model_validator(mode="after")
    def _client_pair(self) -> TemporalTlsFields:
        if (self.tls_client_cert_file is None) != (self.tls_client_key_file is None):
            raise ValueError(
                "tls_client_cert_file and tls_client_key_file are set together or not at all"
            )
        return self

    @property
    def tls_enabled(self) -> bool:
        return any(
            value is not None
            for value in (
                self.tls_client_cert_file,
                self.tls_client_key_file,
                self.tls_server_ca_file,
                self.tls_server_name,
            )
        )
