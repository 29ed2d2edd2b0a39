package geoledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Signed reads: a GET /v1/events/{tenant}/{id} carries
//
//	Authorization: GEOLEDGER-ED25519 key_id=<key id>, ts=<unix seconds>, sig=<unpadded base64url>
//
// where sig is Ed25519 over the canonical request string
// "geoledger-read-v1" LF METHOD LF path LF hex(SHA-256(body)) LF ts LF key_id (ASCII; the path
// exactly as sent, percent-encoded, without a query). The server accepts ts within its
// [reads] max_skew_s (default 300 s) of its clock.
const (
	ReadSigningVersion = "geoledger-read-v1"
	AuthScheme         = "GEOLEDGER-ED25519"
)

var (
	readMethod = regexp.MustCompile(`^[A-Z]+$`)
	readPath   = regexp.MustCompile(`^/[\x21\x22\x24-\x3e\x40-\x7e]*$`)
	readKeyID  = regexp.MustCompile(`^[\x21-\x2b\x2d-\x7e]+$`)
)

// ReadSigningString returns the canonical request string of a read. It refuses a method that
// is not upper-case letters, a path that is not percent-encoded visible ASCII starting with '/'
// (or holds '?' or '#'), a negative ts, or a key id with ',' or non-visible characters.
func ReadSigningString(method, path string, body []byte, ts int64, keyID string) ([]byte, error) {
	switch {
	case !readMethod.MatchString(method):
		return nil, fmt.Errorf("method: expected upper-case letters, got %q", method)
	case !readPath.MatchString(path):
		return nil, fmt.Errorf("path: expected a percent-encoded path starting with '/', got %q", path)
	case ts < 0:
		return nil, fmt.Errorf("ts: expected Unix seconds >= 0, got %d", ts)
	case !readKeyID.MatchString(keyID):
		return nil, fmt.Errorf("key_id: expected visible ASCII without ',', got %q", keyID)
	}
	digest := sha256.Sum256(body)
	parts := []string{ReadSigningVersion, method, path, hex.EncodeToString(digest[:]), strconv.FormatInt(ts, 10), keyID}
	return []byte(strings.Join(parts, "\n")), nil
}

// SignRead returns the Authorization header value signing this request with key (registered
// as keyID) at ts (Unix seconds).
func SignRead(key ed25519.PrivateKey, keyID, method, path string, body []byte, ts int64) (string, error) {
	message, err := ReadSigningString(method, path, body, ts, keyID)
	if err != nil {
		return "", err
	}
	signature := b64url.EncodeToString(ed25519.Sign(key, message))
	return AuthScheme + " key_id=" + keyID + ", ts=" + strconv.FormatInt(ts, 10) + ", sig=" + signature, nil
}

// AuthorizeRead returns the Authorization header value of a read signed with the signer's key;
// ts 0 means now.
func (s *Signer) AuthorizeRead(method, path string, body []byte, ts int64) (string, error) {
	if ts == 0 {
		ts = time.Now().Unix()
	}
	return SignRead(s.Key, s.KeyID, method, path, body, ts)
}
