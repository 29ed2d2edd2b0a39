"""`geoledger keys create | list | revoke` end to end, on databases of their own."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.keys import keys_app
from ledger.keys import private_key_from_pem, public_key_to_b64
from storage.embedded.process import free_port
from tests.conftest import RunningStack
from tests.support.isolated import fresh_config_file

pytestmark = pytest.mark.timeout(120)

runner = CliRunner()


@pytest.fixture(scope="module")
async def config(running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's configuration with every database renamed to fresh, migrated ones."""
    return await fresh_config_file(running_stack, tmp_path_factory.mktemp("keyscli"), "keyscli")


@pytest.fixture
def no_umask() -> Iterator[None]:
    """umask 0: a file created without an explicit 0600 mode would come out world-readable."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def keys(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(keys_app, [*args, "--config", str(config)])
    return result.exit_code, result.output


def listed(config: Path, tenant: str) -> list[dict[str, object]]:
    code, output = keys(config, "list", "--tenant", tenant, "--json")
    assert code == 0, output
    found: list[dict[str, object]] = json.loads(output)["keys"]
    return found


def test_create_writes_a_0600_pem_and_registers_its_public_key(
    config: Path, tmp_path: Path, no_umask: None
) -> None:
    out = tmp_path / "acme.pem"
    code, output = keys(config, "create", "--tenant", "acme", "--out", str(out), "--json")

    assert code == 0, output
    created = json.loads(output)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    private_key = private_key_from_pem(out.read_bytes())
    assert created["public_key"] == public_key_to_b64(private_key.public_key())
    assert created["regions"] == ["us", "eu"]
    assert created["private_key_file"] == str(out)
    [entry] = [k for k in listed(config, "acme") if k["key_id"] == created["key_id"]]
    assert entry["public_key"] == created["public_key"] and entry["revoked_at"] is None


def test_create_defaults_to_a_file_named_after_tenant_and_key(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = keys(config, "create", "--tenant", "globex")

    assert code == 0, output
    [pem] = list(tmp_path.glob("globex-*.pem"))
    key_id = "ed25519:" + pem.stem.removeprefix("globex-")
    assert f"created key {key_id} for tenant globex" in output
    assert [k["key_id"] for k in listed(config, "globex")] == [key_id]


def test_create_refuses_to_overwrite_and_registers_nothing(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken.pem"
    out.write_text("precious")

    code, output = keys(config, "create", "--tenant", "hooli", "--out", str(out))

    assert code == 2
    assert "refusing to overwrite" in output
    assert out.read_text() == "precious"
    assert listed(config, "hooli") == []


def test_a_bad_tenant_is_bad_input(config: Path, tmp_path: Path) -> None:
    code, output = keys(config, "create", "--tenant", "Not Valid", "--out", str(tmp_path / "x"))
    assert code == 2 and "--tenant" in output
    assert not (tmp_path / "x").exists()


def test_a_failed_registration_leaves_no_file(config: Path, tmp_path: Path) -> None:
    text = config.read_text()
    port = text.split("postgresql://postgres@127.0.0.1:")[1].split("/")[0]
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace(f"127.0.0.1:{port}/", f"127.0.0.1:{free_port()}/"))
    out = tmp_path / "never.pem"

    code, output = keys(broken, "create", "--tenant", "acme", "--out", str(out))

    assert code == 1
    assert "key registry unavailable" in output
    assert not out.exists()


def test_revoke_then_list_shows_it_and_unknown_ids_are_bad_input(
    config: Path, tmp_path: Path
) -> None:
    code, output = keys(
        config, "create", "--tenant", "initech", "--out", str(tmp_path / "k.pem"), "--json"
    )
    assert code == 0, output
    key_id = json.loads(output)["key_id"]

    code, output = keys(config, "revoke", key_id)
    assert code == 0, output
    assert f"revoked key {key_id} of tenant initech" in output
    [entry] = listed(config, "initech")
    assert entry["revoked_at"] is not None

    code, output = keys(config, "list")
    assert code == 0 and "initech" in output

    code, output = keys(config, "revoke", "ed25519:does-not-exist")
    assert code == 2
    assert "unknown key 'ed25519:does-not-exist'" in output


def test_create_in_one_region_only(config: Path, tmp_path: Path) -> None:
    code, output = keys(
        config,
        "create",
        "--tenant",
        "umbrella",
        "--region",
        "us",
        "--out",
        str(tmp_path / "u.pem"),
    )
    assert code == 0, output
    [entry] = listed(config, "umbrella")
    assert entry["regions"] == ["us"]

    code, output = keys(config, "create", "--tenant", "umbrella", "--region", "mars")
    assert code == 2 and "unknown region 'mars'" in output
