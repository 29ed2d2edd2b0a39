/**
 * geoledger client SDK: sign events (Ed25519 over RFC 8785 canonical JSON) and send them.
 *
 * ```ts
 * import { Client, Signer, loadPrivateKeyFile } from "@geoledger/sdk";
 *
 * const signer = new Signer(loadPrivateKeyFile("acme.pem"), "acme");
 * const event = signer.sign("order-1001", "order.created", { total: 42.5 });
 * const answer = await new Client("http://127.0.0.1:8080").send([event]);
 * ```
 */

export { canonicalBytes, canonicalJson, type JsonValue } from "./canonical.js";
export {
  backoff,
  Client,
  DEFAULT_RETRY_POLICY,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  planBatches,
  type Batch,
  type ClientOptions,
  type RetryPolicy,
} from "./client.js";
export {
  ENVELOPE_FIELDS,
  envelopeOf,
  MAX_PAYLOAD_BYTES,
  parseEnvelope,
  parseSignedEvent,
  validateEnvelope,
  type Envelope,
  type SignedEvent,
} from "./envelope.js";
export {
  BatchRejectedError,
  CanonicalizationError,
  ClientError,
  EventNotFoundError,
  GeoledgerError,
  InvalidEventError,
  KeyFormatError,
  RetriesExhaustedError,
  UnexpectedResponseError,
} from "./errors.js";
export {
  decodeB64urlStrict,
  generatePrivateKey,
  KEY_ID_PREFIX,
  keyIdFor,
  loadPrivateKeyFile,
  loadPrivateKeyPem,
  privateKeyFromSeed,
  privateKeyToPem,
  publicKeyBytes,
  publicKeyFromB64,
  publicKeyOf,
  publicKeyToB64,
} from "./keys.js";
export {
  deprecationFrom,
  EVENT_STATUSES,
  isOk,
  Reason,
  type DeprecationNotice,
  type EventResult,
  type EventStatus,
  type SendResult,
} from "./results.js";
export { AUTH_SCHEME, READ_SIGNING_VERSION, readSigningString, signRead } from "./readSigning.js";
export { rfc3339Now, Signer } from "./signer.js";
export { canonicalEnvelope, contentDigest, sign, signEvent, SIGNING_DOMAIN, signingInput, verify } from "./signing.js";
export { VERSION } from "./version.js";
