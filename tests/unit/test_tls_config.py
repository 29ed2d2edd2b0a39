"""[tls] and the TLS fields of [temporal]: off by default, incomplete pairs rejected, and what
every Temporal client is given (workers/temporal_tls.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.service import TLSConfig

from ledger.config import TemporalConfig
from ledger.errors import ConfigError
from ledger.tls_config import TlsConfig
from workers.temporal_tls import temporal_tls


def test_both_are_off_by_default() -> None:
    assert not TlsConfig().enabled
    assert temporal_tls(TemporalConfig()) is False


@pytest.mark.parametrize(
    "fields",
    [
        {"cert_file": "/tls/api.pem"},
        {"key_file": "/tls/api-key.pem"},
        {"client_ca_file": "/tls/clients-ca.pem"},
    ],
)
def test_api_tls_needs_a_certificate_and_its_key(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        TlsConfig.model_validate(fields)


def test_temporal_client_certificate_needs_its_key() -> None:
    with pytest.raises(ValidationError, match="tls_client_key_file"):
        TemporalConfig.model_validate({"tls_client_cert_file": "/tls/worker.pem"})


def test_temporal_clients_get_the_files_and_the_server_name(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for name, path in files.items():
        path.write_bytes(name.encode())
    config = TemporalConfig(
        address="10.0.0.7:7233",
        tls_server_ca_file=files["ca"],
        tls_client_cert_file=files["cert"],
        tls_client_key_file=files["key"],
        tls_server_name="temporal.internal",
    )
    assert temporal_tls(config) == TLSConfig(
        server_root_ca_cert=b"ca",
        domain="temporal.internal",
        client_cert=b"cert",
        client_private_key=b"key",
    )


def test_server_ca_alone_is_tls_without_a_client_certificate(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(b"ca")
    assert temporal_tls(TemporalConfig(tls_server_ca_file=tmp_path / "ca.pem")) == TLSConfig(
        server_root_ca_cert=b"ca"
    )


def test_an_unreadable_file_names_its_setting(tmp_path: Path) -> None:
    config = TemporalConfig(tls_server_ca_file=tmp_path / "absent.pem")
    with pytest.raises(ConfigError, match=r"\[temporal\] tls_server_ca_file"):
        temporal_tls(config)
