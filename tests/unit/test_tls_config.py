"""[tls]: off by default, incomplete pairs rejected."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ledger.tls_config import TlsConfig


def test_off_by_default() -> None:
    assert not TlsConfig().enabled


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
