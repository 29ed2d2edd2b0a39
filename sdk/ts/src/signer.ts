/** Signer: builds and signs envelopes for one tenant with one key. */

import type { KeyObject } from "node:crypto";

import type { JsonValue } from "./canonical.js";
import type { SignedEvent } from "./envelope.js";
import { keyIdFor } from "./keys.js";
import { signRead } from "./readSigning.js";
import { signEvent } from "./signing.js";

/** The current UTC time as RFC 3339 with milliseconds, e.g. 2025-01-31T12:00:00.123Z. */
export function rfc3339Now(): string {
  return new Date().toISOString();
}

export class Signer {
  /** The key id events are signed under; derived from the key unless set explicitly. */
  keyId: string;

  constructor(
    readonly privateKey: KeyObject,
    readonly tenantId: string,
    keyId?: string,
  ) {
    this.keyId = keyId ?? keyIdFor(privateKey);
  }

  /** Build, validate and sign one event; `occurredAt` defaults to now (UTC). Throws InvalidEventError naming a bad field. */
  sign(eventId: string, type: string, payload: { [key: string]: JsonValue }, occurredAt?: string): SignedEvent {
    return signEvent(this.privateKey, {
      tenant_id: this.tenantId,
      event_id: eventId,
      key_id: this.keyId,
      occurred_at: occurredAt ?? rfc3339Now(),
      type,
      payload,
    });
  }

  /** The Authorization header value of a read signed with this key; `ts` (Unix seconds) defaults to now. */
  authorizeRead(method: string, path: string, body?: Uint8Array, ts?: number): string {
    return signRead(this.privateKey, this.keyId, method, path, body, ts);
  }
}
