"""Golden vectors for the client SDKs, computed by the server's reference code.

`build_vectors()` returns the document committed beside this package as `vectors.json`
(regenerate it with `geoledger sdk vectors`). Every value in it comes from `ledger.canonical`,
`ledger.signing`, `ledger.keys` and `ledger.envelope`, so an SDK that reproduces it byte for
byte signs exactly as the server verifies.

Each part of the document is a table of frozen cases in its own module, and the builder
(document.py) a loop over the tables:
- `keys` (keys.py): fixed test keys, public test data that must never sign real events.
- `numbers` (numbers.py): IEEE 754 doubles (big-endian hex) and their RFC 8785 §3.2.2.3 text.
- `cases` (signed_cases.py): envelopes with their canonical bytes, signing input, signature,
  content digest, and `tampered` variants (tampering.py) with the expected verification result.
  A case whose payload is too large to store has `payload_recipe` instead of `envelope.payload`
  and stores SHA-256 digests instead of hex bytes (recipes.py).
- `invalid_envelopes` (invalid_envelopes.py): envelopes the reference rejects, with the field it
  names.
- `read_requests` (read_requests.py): signed reads with their canonical request string and
  `Authorization` header, and tampered copies the reference refuses.

The package imports as `golden` (pyproject.toml maps it from sdk/golden).
"""

from golden.document import build_vectors, render_vectors
from golden.recipes import materialize_payload

__all__ = ["build_vectors", "materialize_payload", "render_vectors"]
