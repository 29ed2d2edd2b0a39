package geoledger

import "net/http"

// Event statuses the ingest API answers.
const (
	StatusAccepted  = "accepted"  // stored now
	StatusDuplicate = "duplicate" // an identical event (same content digest) was stored before
	StatusConflict  = "conflict"  // another event with this event_id but other content won
	StatusRejected  = "rejected"  // bad signature or schema; see Reason and Detail
)

// Reason is why the ingest API rejected an event: a machine code, one of the constants below
// (what each means and what to do: docs/api.md, section "Reason codes"). It is a string type, so
// a code added by a newer server still decodes, as a value no constant names.
type Reason string

// Rejection reasons, each named after its wire string.
const (
	ReasonSchemaEvent       Reason = "schema.event"
	ReasonSchemaTenantID    Reason = "schema.tenant_id"
	ReasonSchemaEventID     Reason = "schema.event_id"
	ReasonSchemaKeyID       Reason = "schema.key_id"
	ReasonSchemaOccurredAt  Reason = "schema.occurred_at"
	ReasonSchemaType        Reason = "schema.type"
	ReasonSchemaPayload     Reason = "schema.payload"
	ReasonSchemaSignature   Reason = "schema.signature"
	ReasonTenantUnknown     Reason = "tenant.unknown"
	ReasonKeyUnknown        Reason = "key.unknown"
	ReasonKeyTenantMismatch Reason = "key.tenant_mismatch"
	ReasonKeyRevoked        Reason = "key.revoked"
	ReasonSignatureInvalid  Reason = "signature.invalid"
	ReasonRetentionExpired  Reason = "retention.expired"
	ReasonInternal          Reason = "internal"
)

// EventResult is the server's verdict on one event. Index is the event's position in Send.
type EventResult struct {
	Index    int     `json:"index"`
	TenantID string  `json:"tenant_id"`
	EventID  string  `json:"event_id"`
	Status   string  `json:"status"`
	Reason   *Reason `json:"reason"`
	Detail   *string `json:"detail"`
}

// OK reports whether the event is stored as sent (accepted or duplicate).
func (r EventResult) OK() bool { return r.Status == StatusAccepted || r.Status == StatusDuplicate }

// DeprecationNotice holds the Deprecation (RFC 9745), Sunset (RFC 8594) and Link headers of an
// answer, verbatim.
type DeprecationNotice struct {
	Deprecation string
	Sunset      string
	Link        string
}

func deprecationFrom(header http.Header) *DeprecationNotice {
	deprecation, sunset := header.Get("Deprecation"), header.Get("Sunset")
	if deprecation == "" && sunset == "" {
		return nil
	}
	return &DeprecationNotice{Deprecation: deprecation, Sunset: sunset, Link: header.Get("Link")}
}

// SendResult is the answer to one Send: Results[i] belongs to the i-th event.
type SendResult struct {
	Results     []EventResult
	Deprecation *DeprecationNotice
}

// AllOK reports whether every event was accepted or a duplicate.
func (r *SendResult) AllOK() bool {
	for _, result := range r.Results {
		if !result.OK() {
			return false
		}
	}
	return true
}
