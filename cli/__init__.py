"""The `geoledger` and `dedup-migrate` commands (typer).

A command does three things: parse its input (options, files, durations), call one function in
`workers/` (anything that talks to Temporal: starting workflows, schedules, signals, reports) or
`storage/` (a single read or write of a store), and print the result as a table or as `--json`.
Domain errors become exit codes here (`cli.common.ExitCode`: 1 failed, 2 bad input, 3 a service
unreachable) and nowhere else; Temporal clients come from `cli.common.temporal_client`.

What a command must not hold: workflow inputs, schedule or retry definitions, loops over regions
or streams that gather data, or opening and closing stores around several calls. Those belong
in a function of `workers/` (named after the command, as `workers/geo_schedule.py` is for
`geo schedule`) that an integration test or another command can call without the CLI.
`ingest send` (its HTTP retries) and `keys create` (key generation and the key-file claim) still
hold such logic: do not copy them.
"""
