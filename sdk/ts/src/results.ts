/** What the server answered: one EventResult per event, and deprecation notices. */

export type EventStatus = "accepted" | "duplicate" | "conflict" | "rejected";

export const EVENT_STATUSES: readonly EventStatus[] = ["accepted", "duplicate", "conflict", "rejected"];

/**
 * Why the server rejected an event: the codes of `EventResult.reason`, each named after its wire
 * string (`Reason.KEY_REVOKED === "key.revoked"`). What each means and what to do: docs/api.md,
 * section "Reason codes".
 */
export const Reason = {
  SCHEMA_EVENT: "schema.event",
  SCHEMA_TENANT_ID: "schema.tenant_id",
  SCHEMA_EVENT_ID: "schema.event_id",
  SCHEMA_KEY_ID: "schema.key_id",
  SCHEMA_OCCURRED_AT: "schema.occurred_at",
  SCHEMA_TYPE: "schema.type",
  SCHEMA_PAYLOAD: "schema.payload",
  SCHEMA_SIGNATURE: "schema.signature",
  TENANT_UNKNOWN: "tenant.unknown",
  KEY_UNKNOWN: "key.unknown",
  KEY_TENANT_MISMATCH: "key.tenant_mismatch",
  KEY_REVOKED: "key.revoked",
  SIGNATURE_INVALID: "signature.invalid",
  RETENTION_EXPIRED: "retention.expired",
  INTERNAL: "internal",
} as const;

/** One of the `Reason` codes. */
export type Reason = (typeof Reason)[keyof typeof Reason];

/**
 * The server's verdict on one event; `index` is its position in the `send` call. accepted:
 * stored now; duplicate: an identical event was stored before; conflict: another event with this
 * event_id but other content won; rejected: bad signature or schema (`reason`, `detail`).
 */
export interface EventResult {
  index: number;
  tenant_id: string;
  event_id: string;
  status: EventStatus;
  /**
   * A `Reason` code, or a code added by a newer server that this version does not name (kept as
   * sent); `string & {}` admits those without collapsing the union, so editors still offer the codes.
   */
  reason: Reason | (string & {}) | null;
  detail: string | null;
}

/** True when the event is stored as sent (accepted or duplicate). */
export function isOk(result: EventResult): boolean {
  return result.status === "accepted" || result.status === "duplicate";
}

/** The Deprecation (RFC 9745), Sunset (RFC 8594) and Link headers of an answer, verbatim. */
export interface DeprecationNotice {
  deprecation: string | null;
  sunset: string | null;
  link: string | null;
}

export function deprecationFrom(headers: Headers): DeprecationNotice | undefined {
  const deprecation = headers.get("deprecation");
  const sunset = headers.get("sunset");
  if (deprecation === null && sunset === null) {
    return undefined;
  }
  return { deprecation, sunset, link: headers.get("link") };
}

/** The answer to one `send`: results[i] belongs to the i-th event. */
export interface SendResult {
  results: EventResult[];
  deprecation: DeprecationNotice | undefined;
  /** True when every event was accepted or a duplicate. */
  allOk: boolean;
}
