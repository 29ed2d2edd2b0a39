"""The `[witnesses.<name>]` settings: what a witness and a witnessed log must say."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ledger.audit_config import WitnessConfig, WitnessedLog

LOG = {"origin": "geoledger.example/audit/us", "region": "us"}


@pytest.mark.parametrize(
    "fields",
    [
        {"region": "eu", "port": 8202, "logs": [LOG]},  # no key_file nor vkey
        {"region": "eu", "key_file": "w.pem", "logs": [LOG]},  # no port nor url
        {"region": "eu", "key_file": "w.pem", "port": 8202, "logs": [{"origin": "o"}]},
        {
            "region": "eu",
            "key_file": "w.pem",
            "port": 8202,
            "logs": [{**LOG, "vkey": "o+00000000+AQ=="}],  # both region and vkey
        },
        {"region": "eu", "key_file": "w.pem", "port": 8202, "typo": 1},
    ],
)
def test_incomplete_witness_sections_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        WitnessConfig.model_validate(fields)


def test_url_defaults_to_the_listen_address() -> None:
    served = WitnessConfig(region="eu", key_file="w.pem", port=8202, logs=[WitnessedLog(**LOG)])
    elsewhere = WitnessConfig(region="eu", vkey="w+00000000+BA==", url="https://w.example/x/")
    assert served.base_url == "http://127.0.0.1:8202"
    assert elsewhere.base_url == "https://w.example/x"
