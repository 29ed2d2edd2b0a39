"""`geoledger audit verify` end to end on receipt files, with no service and no configuration:
exit 0 verified, 1 not verified (naming the step), 2 unreadable receipt or key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.sdk import DEFAULT_VECTORS_PATH

SECTION: dict[str, Any] = json.loads(DEFAULT_VECTORS_PATH.read_text(encoding="utf-8"))["receipts"]
LOG_KEY: str = SECTION["log_vkey"]
WITNESS_KEY: str = SECTION["witness_vkeys"][0]
TENANT_KEY: str = SECTION["tenant_public_key"]


@pytest.fixture(autouse=True)
def no_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing to find: the command must not need a configuration file or any service.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GEOLEDGER_CONFIG", str(tmp_path / "absent.toml"))


def receipt_file(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["audit", "verify", *args])


def tampered(name: str) -> dict[str, Any]:
    (entry,) = [entry for entry in SECTION["tampered"] if entry["name"] == name]
    return dict(entry["receipt"])


def test_a_valid_receipt_exits_0_with_what_it_proves(tmp_path: Path) -> None:
    path = receipt_file(tmp_path, SECTION["receipt"])
    result = run(
        str(path), "--log-key", LOG_KEY, "--witness-key", WITNESS_KEY, "--tenant-key", TENANT_KEY
    )
    assert result.exit_code == 0, result.output
    assert "verified: event order-0001 of tenant acme" in result.output
    assert "cosigned by: geoledger.example/witness/eu" in result.output
    assert "event signature: verified" in result.output


def test_json_output_is_the_verified_receipt(tmp_path: Path) -> None:
    path = receipt_file(tmp_path, SECTION["receipt"])
    result = run(str(path), "--log-key", LOG_KEY, "--witness-key", WITNESS_KEY, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document == {
        "ok": True,
        **SECTION["expected"],
        "event_signature_verified": False,
    }


def test_keys_can_come_from_files(tmp_path: Path) -> None:
    path = receipt_file(tmp_path, SECTION["receipt"])
    (tmp_path / "log.vkey").write_text(LOG_KEY + "\n")
    (tmp_path / "witness.vkey").write_text(WITNESS_KEY + "\n")
    result = run(str(path), "--log-key", "@log.vkey", "--witness-key", "@witness.vkey")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("name", "step"),
    [("proof_bit_flipped", "inclusion"), ("cosignature_bit_flipped", "cosignature")],
)
def test_a_tampered_receipt_exits_1_naming_the_step(tmp_path: Path, name: str, step: str) -> None:
    path = receipt_file(tmp_path, tampered(name))
    result = run(str(path), "--log-key", LOG_KEY, "--witness-key", WITNESS_KEY)
    assert result.exit_code == 1
    assert f"receipt not verified: {step}: " in result.output

    as_json = run(str(path), "--log-key", LOG_KEY, "--witness-key", WITNESS_KEY, "--json")
    assert as_json.exit_code == 1
    document = json.loads(as_json.stdout)
    assert document["ok"] is False
    assert document["error"].startswith(f"receipt not verified: {step}: ")


def test_an_unreadable_receipt_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "receipt.json"
    path.write_text("{not json", encoding="utf-8")
    result = run(str(path), "--log-key", LOG_KEY)
    assert result.exit_code == 2
    assert "unreadable receipt" in result.output
    missing = run(str(tmp_path / "absent.json"), "--log-key", LOG_KEY, "--json")
    assert missing.exit_code == 2
    assert json.loads(missing.stdout)["error"].startswith("unreadable receipt")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--log-key", WITNESS_KEY], "log key"),
        (["--log-key", LOG_KEY, "--witness-key", "w+00000000+AAAA"], "witness key"),
        (["--log-key", LOG_KEY, "--tenant-key", "not-base64url!"], "tenant key"),
        (["--log-key", "@absent.vkey"], "--log-key"),
    ],
)
def test_a_bad_key_exits_2_naming_it(tmp_path: Path, options: list[str], named: str) -> None:
    path = receipt_file(tmp_path, SECTION["receipt"])
    result = run(str(path), *options)
    assert result.exit_code == 2
    assert "bad key" in result.output
    assert named in result.output
