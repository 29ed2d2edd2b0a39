"""The keys a witness works with, from the configuration: its own cosigning key, its public
cosigner key, and the note verifier of each log it witnesses; and, for a log, the witnesses it
submits to."""

from __future__ import annotations

from pathlib import Path

from ledger.audit_config import WitnessConfig, WitnessedLog
from ledger.config import Settings
from ledger.cosignature import CosignatureSigner, cosignature_vkey
from ledger.keys import private_key_from_pem
from ledger.signed_note import NoteVerifier, vkey
from storage.audit.errors import WitnessConfigError
from storage.audit.witness_client import WitnessTarget
from storage.crr.errors import CrrError
from storage.crr.region_keys import manifest_public_key


def witness_config(settings: Settings, name: str) -> WitnessConfig:
    """The `[witnesses.<name>]` section; WitnessConfigError when there is none."""
    try:
        return settings.witnesses[name]
    except KeyError:
        raise WitnessConfigError(
            f"unknown witness {name!r}; configured: {sorted(settings.witnesses)}"
        ) from None


def cosigner(name: str, witness: WitnessConfig) -> CosignatureSigner:
    """The witness's cosigning key, read from its `key_file`."""
    if witness.key_file is None:
        raise WitnessConfigError(f"witnesses.{name}.key_file is not set: cannot cosign")
    try:
        return CosignatureSigner(name, private_key_from_pem(Path(witness.key_file).read_bytes()))
    except FileNotFoundError:
        raise WitnessConfigError(
            f"witnesses.{name}.key_file {witness.key_file} does not exist"
        ) from None


def cosigner_vkey(name: str, witness: WitnessConfig) -> str:
    """The verifier key logs check the witness's cosignatures with: `vkey`, else derived from
    `key_file`."""
    if witness.vkey is not None:
        return witness.vkey
    return cosignature_vkey(name, cosigner(name, witness).key.public_key())


def witness_targets(settings: Settings, origin: str) -> list[WitnessTarget]:
    """Every configured witness of the log `origin`, by name, as its log submits to it."""
    return [
        WitnessTarget.from_config(name, witness, cosigner_vkey(name, witness))
        for name, witness in sorted(settings.witnesses.items())
        if witness.witnesses_origin(origin)
    ]


def log_verifiers(settings: Settings, witness: WitnessConfig) -> dict[str, NoteVerifier]:
    """The note verifier of each log the witness cosigns, by origin."""
    return {log.origin: log_verifier(settings, log) for log in witness.logs}


def log_verifier(settings: Settings, log: WitnessedLog) -> NoteVerifier:
    """The log's checkpoint key: its `vkey`, or its region's signing key under the origin."""
    if log.vkey is not None:
        return NoteVerifier.from_vkey(log.vkey)
    assert log.region is not None  # WitnessedLog requires one of the two
    if log.region not in settings.regions:
        raise WitnessConfigError(
            f"log {log.origin!r} names unknown region {log.region!r}; "
            f"known: {sorted(settings.regions)}"
        )
    try:
        public_key = manifest_public_key(log.region, settings.regions[log.region])
    except CrrError as exc:
        raise WitnessConfigError(f"log {log.origin!r}: {exc}") from exc
    return NoteVerifier.from_vkey(vkey(log.origin, public_key))
