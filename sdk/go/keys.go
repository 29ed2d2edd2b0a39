package geoledger

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
)

// KeyIDPrefix starts every key id derived by KeyIDFor.
const KeyIDPrefix = "ed25519:"

// b64url is RFC 4648 section 5 without padding, strict: non-zero pad bits are refused, so each
// byte string has exactly one accepted spelling (the server accepts no other).
var b64url = base64.RawURLEncoding.Strict()

// GenerateKey returns a fresh Ed25519 private key (RFC 8032 section 5.1.5).
func GenerateKey() (ed25519.PrivateKey, error) {
	_, private, err := ed25519.GenerateKey(rand.Reader)
	return private, err
}

// PrivateKeyFromSeed returns the key whose RFC 8032 32-byte secret is seed. Meant for test keys.
func PrivateKeyFromSeed(seed []byte) (ed25519.PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, &KeyFormatError{Message: fmt.Sprintf("expected a 32-byte seed, got %d bytes", len(seed))}
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// LoadPrivateKeyPEM reads an unencrypted PKCS8 PEM Ed25519 key ("BEGIN PRIVATE KEY"), the format
// `geoledger keys create` writes.
func LoadPrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, &KeyFormatError{Message: "expected a PEM block \"PRIVATE KEY\" (unencrypted PKCS8)"}
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, &KeyFormatError{Message: "expected a PKCS8 private key: " + err.Error()}
	}
	private, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, &KeyFormatError{Message: fmt.Sprintf("expected an Ed25519 key, got %T", key)}
	}
	return private, nil
}

// LoadPrivateKeyFile reads a PEM private key file; see LoadPrivateKeyPEM.
func LoadPrivateKeyFile(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &KeyFormatError{Message: fmt.Sprintf("cannot read private key file: %v", err)}
	}
	return LoadPrivateKeyPEM(data)
}

// PrivateKeyToPEM writes an unencrypted PKCS8 PEM, as `geoledger keys create` does.
func PrivateKeyToPEM(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicKeyToB64 returns the raw 32-byte public key as unpadded base64url (43 characters).
func PublicKeyToB64(key ed25519.PublicKey) string { return b64url.EncodeToString(key) }

// PublicKeyFromB64 reads a raw public key written as strict unpadded base64url.
func PublicKeyFromB64(text string) (ed25519.PublicKey, error) {
	// encoding/base64 skips '\r' and '\n'; the length check keeps them out.
	raw, err := b64url.DecodeString(text)
	if err != nil || len(text) != 43 || len(raw) != ed25519.PublicKeySize {
		return nil, &KeyFormatError{Message: fmt.Sprintf("expected 43 unpadded base64url characters (32 bytes), got %q", text)}
	}
	return ed25519.PublicKey(raw), nil
}

// KeyIDFor returns "ed25519:" + the first 16 hex digits of SHA-256 of the raw public key.
func KeyIDFor(key ed25519.PublicKey) string {
	digest := sha256.Sum256(key)
	return KeyIDPrefix + hex.EncodeToString(digest[:8])
}
