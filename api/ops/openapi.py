"""The ops API's OpenAPI document, as committed in docs/ops-openapi.json (regenerate it with
`geoledger ops openapi > docs/ops-openapi.json`; tests/unit/test_ops_openapi.py fails on drift)."""

from __future__ import annotations

import json

from api.ops.app import create_app
from api.ops.auth import OperatorToken
from api.ops.service import OpsService
from ledger.ops_config import DEFAULT_TOKEN_ENV


def openapi_document() -> str:
    """The document as text: sorted keys, two-space indent, a final newline."""
    app = create_app(OpsService({}, connect_timeout_s=1.0), OperatorToken(DEFAULT_TOKEN_ENV, None))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
