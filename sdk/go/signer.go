package geoledger

import (
	"crypto/ed25519"
	"time"
)

// Signer signs events of one tenant with one key.
type Signer struct {
	Key      ed25519.PrivateKey
	TenantID string
	// KeyID defaults to KeyIDFor(Key's public key); set it if the key was registered otherwise.
	KeyID string
}

// NewSigner returns a Signer whose key id is derived from key.
func NewSigner(key ed25519.PrivateKey, tenantID string) *Signer {
	return &Signer{Key: key, TenantID: tenantID, KeyID: KeyIDFor(key.Public().(ed25519.PublicKey))}
}

// RFC3339Now returns the current UTC time as RFC 3339 with milliseconds, e.g.
// 2025-01-31T12:00:00.123Z.
func RFC3339Now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// Sign builds, validates and signs one event. occurredAt "" means now (UTC).
func (s *Signer) Sign(eventID, eventType string, payload map[string]any, occurredAt string) (SignedEvent, error) {
	if occurredAt == "" {
		occurredAt = RFC3339Now()
	}
	return SignEvent(s.Key, Envelope{
		TenantID:   s.TenantID,
		EventID:    eventID,
		KeyID:      s.KeyID,
		OccurredAt: occurredAt,
		Type:       eventType,
		Payload:    payload,
	})
}
