/** Client: the fetch-based HTTP client of the ingest API (POST /v1/events, GET /v1/events/...). */

import { canonicalJson } from "./canonical.js";
import { envelopeOf, type SignedEvent } from "./envelope.js";
import {
  BatchRejectedError,
  ClientError,
  EventNotFoundError,
  RetriesExhaustedError,
  UnexpectedResponseError,
} from "./errors.js";
import { deprecationFrom, EVENT_STATUSES, isOk, type DeprecationNotice, type EventResult, type SendResult } from "./results.js";
import type { Signer } from "./signer.js";
import { VERSION } from "./version.js";

export const MAX_BATCH_EVENTS = 1000;
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
const EVENTS_PATH = "/v1/events";

/**
 * Exponential backoff with jitter for 429, 5xx, timeouts and connection errors. Retry n (1 for
 * the second attempt) waits a random time in [d/2, d], d = min(maxDelayMs, baseDelayMs * 2**(n-1));
 * a Retry-After header raises the wait. A Retry-After over maxDelayMs ends the retries at once:
 * RetriesExhaustedError.retryAfterMs says how long the server asked to wait.
 */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 5000 };

export interface ClientOptions {
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  headers?: Record<string, string>;
  /** Where the one-time deprecation warning goes (default: console). */
  logger?: { warn(message: string): void };
  fetch?: typeof fetch;
  /** Signs getEvent's reads; its key must be registered for the tenant read. */
  signer?: Signer;
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** Events sent in one request; `offset` is the index of the first one in the `send` call. */
export interface Batch {
  offset: number;
  events: SignedEvent[];
  body: string;
}

/**
 * Sends signed events to `baseUrl` (e.g. "http://127.0.0.1:8080"). `send` batches, retries
 * 429 / 5xx / timeouts / connection errors with backoff (resending the same events is safe:
 * events are idempotent by event_id) and throws a ClientError subclass when it cannot succeed.
 */
export class Client {
  readonly baseUrl: string;
  readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly logger: { warn(message: string): void };
  private readonly fetchImpl: typeof fetch;
  private readonly signer: Signer | undefined;
  private warned = false;
  /** The most recent Deprecation/Sunset notice the server sent. */
  deprecation: DeprecationNotice | undefined;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    if (this.retry.maxAttempts < 1) {
      throw new RangeError(`maxAttempts must be >= 1, got ${this.retry.maxAttempts}`);
    }
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.headers = { "user-agent": `geoledger-sdk-ts/${VERSION}`, ...options.headers };
    this.logger = options.logger ?? console;
    this.fetchImpl = options.fetch ?? fetch;
    this.signer = options.signer;
  }

  /**
   * Send events; the result has one EventResult per event, in order. Throws BatchRejectedError
   * (400/413/422), RetriesExhaustedError or UnexpectedResponseError; their `completed` field holds
   * the results of batches answered before the error.
   */
  async send(events: readonly SignedEvent[]): Promise<SendResult> {
    const results: EventResult[] = [];
    let deprecation: DeprecationNotice | undefined;
    for (const batch of planBatches(events)) {
      try {
        const answer = await this.request("POST", EVENTS_PATH, batch.body);
        if (answer.status !== 200) {
          throw batchAnswerError(answer);
        }
        results.push(...parseResults(answer.body, batch));
        deprecation = deprecationFrom(answer.headers) ?? deprecation;
      } catch (error) {
        if (error instanceof ClientError) {
          error.completed = [...results];
        }
        throw error;
      }
    }
    return { results, deprecation, allOk: results.every(isOk) };
  }

  /**
   * The winning envelope stored for (tenantId, eventId), the read signed with `options.signer`
   * (without one the server answers 401, an UnexpectedResponseError). Throws EventNotFoundError on
   * 404: no such event, or the signer's key belongs to another tenant (the server answers both alike).
   */
  async getEvent(tenantId: string, eventId: string): Promise<Record<string, unknown>> {
    const path = `${EVENTS_PATH}/${encodeURIComponent(tenantId)}/${encodeURIComponent(eventId)}`;
    const signed: Record<string, string> = this.signer ? { authorization: this.signer.authorizeRead("GET", path) } : {};
    const answer = await this.request("GET", path, undefined, signed);
    if (answer.status === 404) {
      throw new EventNotFoundError(tenantId, eventId);
    }
    if (answer.status !== 200) {
      throw new UnexpectedResponseError(answer.status, excerpt(answer.body));
    }
    let document: unknown;
    try {
      document = JSON.parse(answer.body);
    } catch {
      throw new UnexpectedResponseError(200, `expected JSON, got ${excerpt(answer.body)}`);
    }
    if (typeof document !== "object" || document === null || Array.isArray(document)) {
      throw new UnexpectedResponseError(200, `expected a JSON object, got ${excerpt(answer.body)}`);
    }
    return document as Record<string, unknown>;
  }

  /** One logical request, retried on 429, 5xx and transport errors as the policy allows. */
  private async request(
    method: string,
    path: string,
    body: string | undefined,
    extra: Record<string, string> = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...this.headers, ...extra };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
    }
    let failure = "";
    let lastStatus: number | undefined;
    let lastError: unknown;
    let retryAfterMs: number | undefined;
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
      if (attempt > 1) {
        await sleep(backoff(this.retry, attempt - 1, retryAfterMs));
      }
      let answer: Answer;
      try {
        const response = await this.fetchImpl(this.baseUrl + path, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        answer = { status: response.status, headers: response.headers, body: await response.text() };
      } catch (error) {
        failure = describe(error);
        lastStatus = undefined;
        lastError = error;
        retryAfterMs = undefined;
        continue;
      }
      this.noteDeprecation(answer.headers);
      if (answer.status !== 429 && answer.status < 500) {
        return answer;
      }
      failure = `HTTP ${answer.status}`;
      lastStatus = answer.status;
      retryAfterMs = parseRetryAfter(answer.headers.get("retry-after"));
      if (retryAfterMs !== undefined && retryAfterMs > this.retry.maxDelayMs) {
        // A retry sooner than the server asked would be refused again: hand the wait to the caller.
        throw new RetriesExhaustedError(attempt, failure, lastStatus, retryAfterMs);
      }
    }
    throw new RetriesExhaustedError(this.retry.maxAttempts, failure, lastStatus, retryAfterMs, { cause: lastError });
  }

  private noteDeprecation(headers: Headers): void {
    const notice = deprecationFrom(headers);
    if (notice === undefined) {
      return;
    }
    this.deprecation = notice;
    if (!this.warned) {
      this.warned = true;
      this.logger.warn(
        `geoledger API answered with a deprecation notice: Deprecation=${notice.deprecation} Sunset=${notice.sunset}` +
          (notice.link ? ` Link=${notice.link}` : ""),
      );
    }
  }
}

/** Split events into requests within the batch limits; each event is written as its canonical JSON. */
export function planBatches(events: readonly SignedEvent[]): Batch[] {
  const frame = '{"events":[]}'.length;
  const batches: Batch[] = [];
  let current: { offset: number; events: SignedEvent[]; encoded: string[]; size: number } = {
    offset: 0,
    events: [],
    encoded: [],
    size: frame,
  };
  const flush = (next: number): void => {
    batches.push({ offset: current.offset, events: current.events, body: `{"events":[${current.encoded.join(",")}]}` });
    current = { offset: next, events: [], encoded: [], size: frame };
  };
  events.forEach((event, index) => {
    // Exactly the seven wire fields, canonical: the server parses the values that were signed.
    const encoded = canonicalJson({ ...envelopeOf(event), signature: event.signature });
    const bytes = Buffer.byteLength(encoded, "utf8");
    if (current.events.length > 0 && (current.events.length === MAX_BATCH_EVENTS || current.size + 1 + bytes > MAX_BATCH_BYTES)) {
      flush(index);
    }
    current.size += bytes + (current.events.length > 0 ? 1 : 0);
    current.events.push(event);
    current.encoded.push(encoded);
  });
  if (current.events.length > 0) {
    flush(events.length);
  }
  return batches;
}

export function backoff(policy: RetryPolicy, retry: number, retryAfterMs: number | undefined): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  let wait = ceiling / 2 + Math.random() * (ceiling / 2);
  if (retryAfterMs !== undefined) {
    wait = Math.max(wait, Math.min(retryAfterMs, policy.maxDelayMs));
  }
  return wait;
}

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) {
    return undefined;
  }
  if (/^\s*\d+\s*$/.test(value)) {
    return Number(value) * 1000;
  }
  const when = Date.parse(value);
  return Number.isNaN(when) ? undefined : Math.max(0, when - Date.now());
}

function batchAnswerError(answer: Answer): ClientError {
  if ([400, 413, 422].includes(answer.status)) {
    try {
      const { error } = JSON.parse(answer.body) as { error: { code: unknown; message: unknown } };
      return new BatchRejectedError(answer.status, String(error.code), String(error.message));
    } catch {
      return new BatchRejectedError(answer.status, "unknown", excerpt(answer.body));
    }
  }
  return new UnexpectedResponseError(answer.status, excerpt(answer.body));
}

function parseResults(body: string, batch: Batch): EventResult[] {
  let raw: unknown;
  try {
    raw = (JSON.parse(body) as { results?: unknown }).results;
  } catch {
    throw new UnexpectedResponseError(200, `expected {"results": [...]}, got ${excerpt(body)}`);
  }
  if (!Array.isArray(raw) || raw.length !== batch.events.length) {
    const got = Array.isArray(raw) ? raw.length : typeof raw;
    throw new UnexpectedResponseError(200, `expected ${batch.events.length} results, one per event sent, got ${got}`);
  }
  return raw.map((item: unknown, position: number): EventResult => {
    const event = batch.events[position] as SignedEvent;
    const result = (typeof item === "object" && item !== null ? item : {}) as Record<string, unknown>;
    if (!EVENT_STATUSES.includes(result.status as never)) {
      throw new UnexpectedResponseError(200, `result ${position}: expected a known status, got ${JSON.stringify(item)}`);
    }
    if ((result.index ?? position) !== position || result.event_id !== event.event_id) {
      throw new UnexpectedResponseError(
        200,
        `result ${position}: expected index ${position} for event ${JSON.stringify(event.event_id)}, ` +
          `got index ${String(result.index)} for ${JSON.stringify(result.event_id)}`,
      );
    }
    return {
      index: batch.offset + position,
      tenant_id: typeof result.tenant_id === "string" ? result.tenant_id : event.tenant_id,
      event_id: event.event_id,
      status: result.status as EventResult["status"],
      reason: typeof result.reason === "string" ? result.reason : null,
      detail: typeof result.detail === "string" ? result.detail : null,
    };
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const inner = cause instanceof Error ? `: ${cause.message}` : "";
    return `${error.name}: ${error.message}${inner}`;
  }
  return String(error);
}

function excerpt(body: string): string {
  return body.length <= 300 ? body : `${body.slice(0, 300)}...`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
