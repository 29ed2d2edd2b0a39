package geoledger

import (
	"fmt"
	"time"
)

// InvalidEventError reports an envelope that breaks a field rule; nothing was signed or sent.
// Field names the offending field ("tenant_id", "payload", ...; "event" for the object itself).
type InvalidEventError struct {
	Field   string
	Message string
}

func (e *InvalidEventError) Error() string { return e.Field + ": " + e.Message }

// CanonicalizationError reports a value with no RFC 8785 form: NaN or infinity, an integer beyond
// +-(2**53 - 1), invalid UTF-8, or a type that is not JSON.
type CanonicalizationError struct{ Message string }

func (e *CanonicalizationError) Error() string { return "canonical JSON: " + e.Message }

// KeyFormatError reports key material that could not be read.
type KeyFormatError struct{ Message string }

func (e *KeyFormatError) Error() string { return "key: " + e.Message }

// BatchRejectedError is the server rejecting a whole batch (HTTP 400, 413 or 422). It is never
// retried: resending the same bytes cannot help.
type BatchRejectedError struct {
	Status  int
	Code    string
	Message string
}

func (e *BatchRejectedError) Error() string {
	return fmt.Sprintf("server rejected the batch with HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// RetriesExhaustedError is returned when every attempt got a retryable answer (429, 5xx) or a
// transport error, or when the server asked for a longer wait than the policy's MaxDelay.
// LastStatus is 0 when the last failure was a transport error (Err). RetryAfter is the last
// answer's Retry-After (0 without one): when to send again.
type RetriesExhaustedError struct {
	Attempts    int
	LastFailure string
	LastStatus  int
	RetryAfter  time.Duration
	Err         error
}

func (e *RetriesExhaustedError) Error() string {
	wait := ""
	if e.RetryAfter > 0 {
		wait = fmt.Sprintf(" (server asked to retry after %s)", e.RetryAfter)
	}
	return fmt.Sprintf("gave up after %d attempts; last failure: %s%s", e.Attempts, e.LastFailure, wait)
}

func (e *RetriesExhaustedError) Unwrap() error { return e.Err }

// UnexpectedResponseError is an answer this SDK does not understand (status or body).
type UnexpectedResponseError struct {
	Status  int
	Message string
}

func (e *UnexpectedResponseError) Error() string {
	return fmt.Sprintf("unexpected answer (HTTP %d): %s", e.Status, e.Message)
}

// EventNotFoundError is GET /v1/events/{tenant}/{event_id} answering 404.
type EventNotFoundError struct {
	TenantID string
	EventID  string
}

func (e *EventNotFoundError) Error() string {
	return fmt.Sprintf("no event %q for tenant %q", e.EventID, e.TenantID)
}
