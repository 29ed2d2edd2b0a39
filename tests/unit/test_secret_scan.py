"""The secret scan of `make lint` (detect-secrets with the settings in .secrets.baseline) flags a
plaintext credential, and lets through what the baseline's settings mean to let through: a line
that names the PEM header without key material, and hashes (the entropy plugins are off)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.settings import transient_settings

BASELINE = Path(__file__).resolve().parents[2] / ".secrets.baseline"
# Built at run time so that this file's own lines hold no credential.
HEADER = "-----BEGIN " + "PRIVATE KEY-----"
LEAKS = {
    "aws_key": 'AWS_ACCESS_KEY_ID = "' + "AKIA" + "Z4GQLVX7Q2MNB5TW" + '"',
    "pem": f'KEY = "{HEADER}\\nMC4CAQAwBQYDK2VwBCIEIEHzs4Xtvca"',
    "keyword": 'db_password = "' + "wrong-Horse-battery-9" + '"',
}
PASSES = {
    "pem_header_named": f'"""Unencrypted PKCS8 PEM, "{HEADER}"."""',
    "sha256": f'DIGEST = "{hashlib.sha256(b"geoledger").hexdigest()}"',
}


def _flagged(tmp_path: Path, line: str) -> list[str]:
    source = tmp_path / "candidate.py"
    source.write_text(line + "\n")
    settings = json.loads(BASELINE.read_text())
    with transient_settings(
        {"plugins_used": settings["plugins_used"], "filters_used": settings["filters_used"]}
    ):
        found = SecretsCollection()
        found.scan_file(str(source))
    return [secret.type for _, secret in found]


@pytest.mark.parametrize("name", sorted(LEAKS))
def test_a_plaintext_credential_is_flagged(tmp_path: Path, name: str) -> None:
    assert _flagged(tmp_path, LEAKS[name]), LEAKS[name]


@pytest.mark.parametrize("name", sorted(PASSES))
def test_what_the_settings_allow_passes(tmp_path: Path, name: str) -> None:
    assert _flagged(tmp_path, PASSES[name]) == []


def test_every_baseline_entry_is_audited_as_a_fixture() -> None:
    results = json.loads(BASELINE.read_text())["results"]
    assert {entry["is_secret"] for entries in results.values() for entry in entries} == {False}
