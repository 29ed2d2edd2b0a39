"""The committed OpenAPI document of the ops API (docs/ops-openapi.json) is the one the app
serves, and it puts every operation behind the operator token."""

from __future__ import annotations

import json

from api.ops.openapi import openapi_document
from tests.conftest import REPO_ROOT

DOCUMENT = REPO_ROOT / "docs" / "ops-openapi.json"
REGENERATE = "geoledger ops openapi > docs/ops-openapi.json"


def test_the_committed_document_is_the_apps() -> None:
    assert DOCUMENT.read_text() == openapi_document(), f"the document drifted: run `{REGENERATE}`"


def test_every_operation_is_a_read_behind_the_bearer_token() -> None:
    document = json.loads(DOCUMENT.read_text())
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    operations = [
        (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) == 6
    for method, path, operation in operations:
        assert method == "get", path
        assert operation["security"] == [{"HTTPBearer": []}], path
        assert {"200", "401", "503"} <= set(operation["responses"]), path
