package geoledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
)

// SigningDomain prefixes every signing input, so an event signature can never be taken for a
// signature of anything else.
const SigningDomain = "geoledger.event.v1\x00"

// SigningInput returns the bytes an event signature covers: SigningDomain + JCS(envelope).
func SigningInput(envelope Envelope) ([]byte, error) {
	canonical, err := envelope.Canonical()
	if err != nil {
		return nil, err
	}
	return append([]byte(SigningDomain), canonical...), nil
}

// ContentDigest returns SHA-256 of the canonical envelope (no prefix, no signature): the server
// calls two events with the same key and digest duplicates.
func ContentDigest(envelope Envelope) ([32]byte, error) {
	canonical, err := envelope.Canonical()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(canonical), nil
}

// Sign validates the envelope and returns its Ed25519 signature (RFC 8032 section 5.1.6) of the
// signing input, as unpadded base64url.
func Sign(key ed25519.PrivateKey, envelope Envelope) (string, error) {
	if err := envelope.Validate(); err != nil {
		return "", err
	}
	input, err := SigningInput(envelope)
	if err != nil {
		return "", err
	}
	return b64url.EncodeToString(ed25519.Sign(key, input)), nil
}

// SignEvent returns the envelope together with its signature.
func SignEvent(key ed25519.PrivateKey, envelope Envelope) (SignedEvent, error) {
	signature, err := Sign(key, envelope)
	if err != nil {
		return SignedEvent{}, err
	}
	return SignedEvent{Envelope: envelope, Signature: signature}, nil
}

// Verify reports whether event.Signature is exactly 86 strict base64url characters (no padding,
// zero pad bits) of a valid Ed25519 signature (RFC 8032 section 5.1.7) of the signing input.
func Verify(key ed25519.PublicKey, event SignedEvent) bool {
	// encoding/base64 skips '\r' and '\n'; with the exact length they cannot hide a character.
	if len(key) != ed25519.PublicKeySize || len(event.Signature) != 86 ||
		strings.ContainsAny(event.Signature, "\r\n") {
		return false
	}
	signature, err := b64url.DecodeString(event.Signature)
	if err != nil || len(signature) != ed25519.SignatureSize {
		return false
	}
	input, err := SigningInput(event.Envelope)
	if err != nil {
		return false
	}
	return ed25519.Verify(key, input, signature)
}
