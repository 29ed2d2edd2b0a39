"""The public keys a receipt of a region's log is verified with: the log's note verifier key
(C2SP signed-note, named by the log's origin) and its witnesses' cosigner keys - what an
operator hands to whoever runs `geoledger audit verify`."""

from __future__ import annotations

from ledger.config import Settings
from ledger.signed_note import vkey
from storage.audit.witness_keys import cosigner_vkey, witness_targets
from storage.crr.region_keys import manifest_public_key


def log_vkey(settings: Settings, region: str) -> str:
    """The note verifier key of `region`'s log (its checkpoints are signed with it)."""
    origin = settings.audit.origin(region)
    return vkey(origin, manifest_public_key(region, settings.region(region)))


def witness_vkeys(settings: Settings, region: str) -> list[str]:
    """The cosigner keys of the witnesses of `region`'s log."""
    targets = witness_targets(settings, settings.audit.origin(region))
    return [cosigner_vkey(t.name, settings.witnesses[t.name]) for t in targets]
