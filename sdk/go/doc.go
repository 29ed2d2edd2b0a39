// Package geoledger is the Go client SDK of geoledger, a signed, deduplicated, geo-replicated
// event ledger.
//
// An event envelope {tenant_id, event_id, key_id, occurred_at, type, payload} is signed with
// Ed25519 (RFC 8032) over
//
//	"geoledger.event.v1\x00" + JCS(envelope)
//
// where JCS is the RFC 8785 JSON Canonicalization Scheme, implemented in this package with the
// standard library only. Signatures are unpadded base64url. A Client sends signed events to
// POST /v1/events in batches, retrying 429, 5xx, timeouts and connection errors with exponential
// backoff and jitter; events are idempotent by event_id, so a retried batch is safe.
//
//	key, _ := geoledger.LoadPrivateKeyFile("acme.pem")
//	signer := geoledger.NewSigner(key, "acme")
//	event, _ := signer.Sign("order-1001", "order.created", map[string]any{"total": 42.5}, "")
//	client := geoledger.NewClient("http://127.0.0.1:8080")
//	result, err := client.Send(ctx, []geoledger.SignedEvent{event})
package geoledger

// Version is this module's version; release tags are sdk/go/v<Version> (see the VERSION file).
const Version = "0.1.0"
