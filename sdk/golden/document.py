"""The vectors document (format 1): a short loop over each table of cases."""

from __future__ import annotations

import json

from golden.invalid_envelopes import INVALID_ENVELOPES, invalid_entry
from golden.keys import KEY_NAMES, key_entry
from golden.numbers import number_vectors
from golden.read_requests import read_requests_section
from golden.receipts import receipts_section
from golden.recipes import REPEAT_RECIPE_TEXT
from golden.signed_cases import SIGNED_CASES, signed_entry
from golden.types import Json
from ledger.envelope import MAX_PAYLOAD_BYTES
from ledger.signing import SIGNING_DOMAIN

FORMAT_VERSION = 1
GENERATED_BY = "geoledger sdk vectors"
DESCRIPTION = (
    "Golden vectors of the geoledger event signature contract, computed by the server's "
    "reference code (ledger/). signing input = signing_domain + JCS(envelope) (RFC 8785); "
    "signature = Ed25519 (RFC 8032) over it, unpadded base64url; content digest = "
    "SHA-256(JCS(envelope)). Keys are public test data."
)


def build_vectors() -> Json:
    """The golden vector document (format 1). Deterministic: Ed25519 signatures are (RFC 8032
    §5.1.6) and every input in the tables is fixed, so two runs give identical documents."""
    return {
        "generated_by": GENERATED_BY,
        "format": FORMAT_VERSION,
        "description": DESCRIPTION,
        "signing_domain_hex": SIGNING_DOMAIN.hex(),
        "max_payload_bytes": MAX_PAYLOAD_BYTES,
        "payload_recipes": {"repeat": REPEAT_RECIPE_TEXT},
        "keys": [key_entry(name) for name in KEY_NAMES],
        "numbers": number_vectors(),
        "cases": [signed_entry(index, case) for index, case in enumerate(SIGNED_CASES)],
        "invalid_envelopes": [invalid_entry(case) for case in INVALID_ENVELOPES],
        "receipts": receipts_section(),
        "read_requests": read_requests_section(),
    }


def render_vectors() -> str:
    """The document as committed: 2-space indented JSON, ASCII only, trailing newline."""
    return json.dumps(build_vectors(), indent=2, ensure_ascii=True) + "\n"
