"""An object store's section refuses credentials, naming the environment variables to use
instead (ledger/store_credentials.py); the endpoints of the embedded stack stay accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import ObjectStoreConfig, load_settings
from ledger.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "extra",
    [
        {"aws_access_key_id": "placeholder"},
        # pragma: allowlist nextline secret (a placeholder the config must refuse)
        {"AWS_SECRET_ACCESS_KEY": "placeholder"},
        {"credentials_file": "/keys/sa.json"},
        # pragma: allowlist nextline secret (a placeholder the config must refuse)
        {"endpoint_url": "https://user:placeholder@minio.internal:9000"},
    ],
)
def test_a_credential_in_the_section_names_the_environment_instead(
    extra: dict[str, str],
) -> None:
    with pytest.raises(ValueError, match=r"AWS_ACCESS_KEY_ID.*GOOGLE_APPLICATION_CREDENTIALS"):
        ObjectStoreConfig.model_validate({"url": "s3://bucket/prefix", **extra})


def test_the_file_error_names_the_field_and_never_echoes_the_value(tmp_path: Path) -> None:
    text = (REPO_ROOT / "geoledger.toml").read_text()
    section = "[regions.us.object_store]\n"
    assert section in text
    config = tmp_path / "geoledger.toml"
    # pragma: allowlist nextline secret (a placeholder the config must refuse)
    config.write_text(text.replace(section, section + 'aws_secret_access_key = "do-not-echo"\n'))
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    message = str(refused.value)
    assert "regions.us.object_store" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert "do-not-echo" not in message


def test_emulator_endpoints_are_accepted() -> None:
    store = ObjectStoreConfig(url="s3://bucket/prefix", endpoint_url="http://127.0.0.1:4566")
    assert store.endpoint_url == "http://127.0.0.1:4566"
