"""`geoledger witness serve`: a C2SP tlog-witness for the audit logs it is configured with."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import ConfigOption, ExitCode, fail, settings_from

witness_app = typer.Typer(help="Witnesses of the regions' audit logs (C2SP tlog-witness).")


@witness_app.command("serve")
def serve(
    name: Annotated[str, typer.Option("--name", help="The `[witnesses.<name>]` section to run.")],
    host: Annotated[str | None, typer.Option(help="Listen address (default from config).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default from config).")] = None,
    config: ConfigOption = None,
) -> None:
    """Run the witness NAME: it cosigns the checkpoints of its logs that extend the last one it
    cosigned, and answers 409 with its latest size to anything else."""
    from api.witness.serve import run_witness
    from ledger.errors import ConfigError
    from storage.audit.errors import WitnessConfigError
    from storage.audit.witness_keys import cosigner, log_verifiers

    settings = settings_from(config)
    witness = settings.witnesses.get(name)
    if witness is None:
        fail(
            f"unknown witness {name!r}; configured: {sorted(settings.witnesses)}",
            ExitCode.BAD_INPUT,
        )
    try:  # read now, so that a missing key or region is an error message, not a traceback
        settings.region(witness.region)
        cosigner(name, witness)
        log_verifiers(settings, witness)
    except (ConfigError, WitnessConfigError) as exc:
        fail(str(exc), ExitCode.BAD_INPUT)
    listen_port = port or witness.port
    if listen_port is None:
        fail(f"witnesses.{name}.port is not set: give --port", ExitCode.BAD_INPUT)
    run_witness(settings, name, host or witness.host, listen_port)
