"""geoledger client SDK: sign events (Ed25519 over RFC 8785 canonical JSON) and send them.

from geoledger_sdk import Client, Signer, load_private_key_file

signer = Signer(load_private_key_file("tenant.pem"), tenant_id="acme")
event = signer.sign("order-1", "order.created", {"total": 12.5})
with Client("http://127.0.0.1:8080") as client:
    result = client.send([event])
"""

from geoledger_sdk._protocol import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, RetryPolicy
from geoledger_sdk._version import __version__
from geoledger_sdk.async_client import AsyncClient
from geoledger_sdk.canonical import canonicalize
from geoledger_sdk.client import Client
from geoledger_sdk.envelope import MAX_PAYLOAD_BYTES, Envelope, SignedEvent
from geoledger_sdk.errors import (
    BatchRejectedError,
    CanonicalizationError,
    ClientError,
    EventNotFoundError,
    GeoledgerError,
    InvalidEventError,
    KeyFormatError,
    ReceiptError,
    RetriesExhaustedError,
    UnexpectedResponseError,
)
from geoledger_sdk.keys import (
    generate_private_key,
    key_id_for,
    load_private_key_file,
    load_private_key_pem,
    private_key_from_seed,
    private_key_to_pem,
    public_key_from_b64,
    public_key_to_b64,
)
from geoledger_sdk.read_signing import READ_SIGNING_VERSION, read_signing_string, sign_read
from geoledger_sdk.receipt import VerifiedReceipt, verify_receipt
from geoledger_sdk.results import DeprecationNotice, EventResult, Reason, SendResult
from geoledger_sdk.signer import Signer, rfc3339_now
from geoledger_sdk.signing import (
    SIGNING_DOMAIN,
    content_digest,
    sign,
    sign_event,
    signing_input,
    verify,
)

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "MAX_PAYLOAD_BYTES",
    "READ_SIGNING_VERSION",
    "SIGNING_DOMAIN",
    "AsyncClient",
    "BatchRejectedError",
    "CanonicalizationError",
    "Client",
    "ClientError",
    "DeprecationNotice",
    "Envelope",
    "EventNotFoundError",
    "EventResult",
    "GeoledgerError",
    "InvalidEventError",
    "KeyFormatError",
    "Reason",
    "ReceiptError",
    "RetriesExhaustedError",
    "RetryPolicy",
    "SendResult",
    "SignedEvent",
    "Signer",
    "UnexpectedResponseError",
    "VerifiedReceipt",
    "__version__",
    "canonicalize",
    "content_digest",
    "generate_private_key",
    "key_id_for",
    "load_private_key_file",
    "load_private_key_pem",
    "private_key_from_seed",
    "private_key_to_pem",
    "public_key_from_b64",
    "public_key_to_b64",
    "read_signing_string",
    "rfc3339_now",
    "sign",
    "sign_event",
    "sign_read",
    "signing_input",
    "verify",
    "verify_receipt",
]
