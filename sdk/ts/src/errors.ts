/** Every error this SDK throws extends GeoledgerError; messages say what was expected and what was got. */

import type { EventResult } from "./results.js";

/** Base of every error `@geoledger/sdk` throws. */
export class GeoledgerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An envelope breaks a field rule; nothing was signed or sent. `field` names the offending field ("event" for the object itself). */
export class InvalidEventError extends GeoledgerError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A value has no RFC 8785 form (NaN, Infinity, lone surrogate, a non-JSON type). */
export class CanonicalizationError extends GeoledgerError {}

/** Key material could not be read. */
export class KeyFormatError extends GeoledgerError {}

/** Base of the errors the Client throws. `completed` holds the results of batches answered before the error. */
export class ClientError extends GeoledgerError {
  completed: EventResult[] = [];
}

/** The server rejected the whole batch (HTTP 400, 413 or 422); never retried. */
export class BatchRejectedError extends ClientError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`server rejected the batch with HTTP ${status} ${code}: ${detail}`);
  }
}

/**
 * Every attempt got a retryable answer (429, 5xx) or a transport error, or the server asked for a
 * longer wait than the policy's maxDelayMs. `lastStatus` is undefined for transport errors;
 * `retryAfterMs` is the last answer's Retry-After (undefined without one): when to send again.
 */
export class RetriesExhaustedError extends ClientError {
  constructor(
    readonly attempts: number,
    readonly lastFailure: string,
    readonly lastStatus: number | undefined,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    const wait = retryAfterMs === undefined ? "" : ` (server asked to retry after ${retryAfterMs / 1000}s)`;
    super(`gave up after ${attempts} attempts; last failure: ${lastFailure}${wait}`, options);
  }
}

/** The server answered something this SDK does not understand. */
export class UnexpectedResponseError extends ClientError {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(`unexpected answer (HTTP ${status}): ${detail}`);
  }
}

/** GET /v1/events/{tenant}/{event_id} answered 404. */
export class EventNotFoundError extends ClientError {
  constructor(
    readonly tenantId: string,
    readonly eventId: string,
  ) {
    super(`no event ${JSON.stringify(eventId)} for tenant ${JSON.stringify(tenantId)}`);
  }
}
