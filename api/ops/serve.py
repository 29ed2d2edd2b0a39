"""Running the ops API under uvicorn, built from the configuration and the environment."""

from __future__ import annotations

import os

from api.ops.app import create_app
from api.ops.auth import OperatorToken
from api.ops.service import OpsService
from api.server_tls import serve
from ledger.config import Settings


def run_ops_api(settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted; the token is read from `[ops] token_env` once, at start."""
    token = OperatorToken.from_environment(settings.ops.token_env, os.environ)
    app = create_app(OpsService.from_settings(settings), token)
    serve(app, host, port, settings.tls)
