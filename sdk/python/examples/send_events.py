"""Send a few signed events to a geoledger ingest node and print what it answered.

Environment:
  GEOLEDGER_URL       base URL of an ingest node, e.g. http://127.0.0.1:8080
  GEOLEDGER_TENANT    tenant id the key is registered for
  GEOLEDGER_KEY_FILE  the tenant's private key (PKCS8 PEM, as `geoledger keys create` writes it)
  GEOLEDGER_KEY_ID    optional: the key id the key was registered under (default: derived from it)

Exit status: 0 when every event was accepted or a duplicate, 1 when one was not, 2 when the
events could not be sent at all.
"""

from __future__ import annotations

import os
import sys
import uuid

from geoledger_sdk import Client, GeoledgerError, Signer, load_private_key_file


def main() -> int:
    try:
        url = os.environ["GEOLEDGER_URL"]
        tenant = os.environ["GEOLEDGER_TENANT"]
        key_file = os.environ["GEOLEDGER_KEY_FILE"]
    except KeyError as missing:
        print(f"error: environment variable {missing.args[0]} is not set", file=sys.stderr)
        return 2
    try:
        signer = Signer(load_private_key_file(key_file), tenant_id=tenant)
        if os.environ.get("GEOLEDGER_KEY_ID"):
            signer.key_id = os.environ["GEOLEDGER_KEY_ID"]
        run = uuid.uuid4().hex[:12]
        events = [
            signer.sign(
                f"example-py-{run}-{n}",
                "example.order.created",
                {"order": n, "total": 10.5 * n, "currency": "EUR", "sdk": "python"},
            )
            for n in range(1, 4)
        ]
        with Client(url) as client:
            answer = client.send(events)
    except GeoledgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for result in answer.results:
        extra = f" {result.reason}: {result.detail}" if result.reason else ""
        print(f"{result.index} {result.event_id} {result.status}{extra}")
    if answer.deprecation is not None:
        print(f"warning: API deprecation notice: {answer.deprecation.describe()}", file=sys.stderr)
    return 0 if answer.all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
