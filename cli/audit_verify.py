"""`geoledger audit verify RECEIPT`: check an audit receipt offline, with no service running and
no configuration file - only the keys given on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from cli.common import ExitCode, JsonOption, fail, print_json
from ledger.errors import KeyFormatError, ReceiptError
from ledger.receipt import Receipt, parse_receipt, receipt_keys, verify_receipt

KEY_HELP = "a verifier key name+hex8+base64, or @FILE holding one"


def verify(
    receipt_file: Annotated[
        Path, typer.Argument(metavar="RECEIPT", help="The receipt file (JSON), or - for stdin.")
    ],
    log_key: Annotated[str, typer.Option("--log-key", help=f"The log's key: {KEY_HELP}.")],
    witness_key: Annotated[
        list[str] | None,
        typer.Option(
            "--witness-key", help=f"A witness that must have cosigned (repeatable): {KEY_HELP}."
        ),
    ] = None,
    tenant_key: Annotated[
        str | None,
        typer.Option(
            "--tenant-key",
            help="Also check the event's signature with the tenant's public key (base64url, as "
            "`geoledger keys list` shows it), or @FILE holding it.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Verify RECEIPT offline: the checkpoint is signed by the log key and cosigned by every
    witness key, the leaf records the event, and the inclusion proof leads to the checkpoint's
    root. Exit 0 verified, 1 not verified (naming the step), 2 unreadable receipt or key."""
    log_text = _key_text(log_key, "--log-key", json_output)
    witness_texts = [_key_text(text, "--witness-key", json_output) for text in witness_key or []]
    tenant_text = None if tenant_key is None else _key_text(tenant_key, "--tenant-key", json_output)
    try:
        receipt_keys(log_text, witness_texts, tenant_text)
    except KeyFormatError as exc:
        _refuse(f"bad key: {exc}", ExitCode.BAD_INPUT, json_output)
    receipt = _read_receipt(receipt_file, json_output)
    try:
        verified = verify_receipt(receipt, log_text, witness_texts, tenant_text)
    except ReceiptError as exc:
        _refuse(f"receipt not verified: {exc}", ExitCode.FAILED, json_output)
    if json_output:
        print_json({"ok": True, **verified.model_dump()})
        return
    signature = "verified" if verified.event_signature_verified else "not checked (no --tenant-key)"
    typer.echo(
        f"verified: event {verified.event_id} of tenant {verified.tenant_id}\n"
        f"  log: {verified.origin}, leaf {verified.leaf_index} of {verified.size}, "
        f"root {verified.root_hex}\n"
        f"  cosigned by: {', '.join(verified.witnesses) or 'no --witness-key given'}\n"
        f"  event signature: {signature}"
    )


def _key_text(value: str, option: str, json_output: bool) -> str:
    """The key itself, or the content of FILE for @FILE (surrounding whitespace removed)."""
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        _refuse(
            f"bad key: {option}: cannot read {value[1:]}: {exc}", ExitCode.BAD_INPUT, json_output
        )


def _read_receipt(path: Path, json_output: bool) -> Receipt:
    try:
        data = typer.get_binary_stream("stdin").read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        _refuse(f"unreadable receipt {path}: {exc.strerror}", ExitCode.BAD_INPUT, json_output)
    try:
        return parse_receipt(data)
    except ReceiptError as exc:
        _refuse(f"unreadable receipt {path}: {exc}", ExitCode.BAD_INPUT, json_output)


def _refuse(message: str, code: ExitCode, json_output: bool) -> NoReturn:
    if json_output:
        print_json({"ok": False, "error": message})
        raise typer.Exit(int(code))
    fail(message, code)
