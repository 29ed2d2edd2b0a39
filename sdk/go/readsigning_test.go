package geoledger

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"
)

// goldenReads is the golden vectors' read_requests: signed reads reproduced byte for byte.
type goldenReads struct {
	Version string `json:"version"`
	Scheme  string `json:"scheme"`
	Cases   []struct {
		Name          string `json:"name"`
		Key           string `json:"key"`
		KeyID         string `json:"key_id"`
		Method        string `json:"method"`
		Path          string `json:"path"`
		BodyHex       string `json:"body_hex"`
		TS            int64  `json:"ts"`
		Canonical     string `json:"canonical"`
		Authorization string `json:"authorization"`
	} `json:"cases"`
}

func TestGoldenReadRequests(t *testing.T) {
	doc := loadGolden(t)
	reads := doc.ReadRequests
	if reads.Version != ReadSigningVersion || reads.Scheme != AuthScheme || len(reads.Cases) < 4 {
		t.Fatalf("unexpected read_requests header %q %q with %d cases", reads.Version, reads.Scheme, len(reads.Cases))
	}
	seeds := map[string]string{}
	for _, key := range doc.Keys {
		seeds[key.Name] = key.SeedHex
	}
	for _, c := range reads.Cases {
		t.Run(c.Name, func(t *testing.T) {
			seed, _ := hex.DecodeString(seeds[c.Key])
			body, _ := hex.DecodeString(c.BodyHex)
			canonical, err := ReadSigningString(c.Method, c.Path, body, c.TS, c.KeyID)
			if err != nil || string(canonical) != c.Canonical {
				t.Fatalf("canonical %q (%v), vectors say %q", canonical, err, c.Canonical)
			}
			signer := NewSigner(ed25519.NewKeyFromSeed(seed), "acme")
			if signer.KeyID != c.KeyID {
				t.Fatalf("key id %s, vectors say %s", signer.KeyID, c.KeyID)
			}
			header, err := signer.AuthorizeRead(c.Method, c.Path, body, c.TS)
			if err != nil || header != c.Authorization {
				t.Fatalf("Authorization %q (%v), vectors say %q", header, err, c.Authorization)
			}
		})
	}
}

func TestReadSigningStringRefusesAmbiguousParts(t *testing.T) {
	for _, bad := range [][3]string{
		{"get", "/v1/events/a/b", "k"},
		{"GET", "v1/events/a/b", "k"},
		{"GET", "/v1/events/a/b?x=1", "k"},
		{"GET", "/v1/events/a b", "k"},
		{"GET", "/v1/events/a/b", "k,1"},
	} {
		if _, err := ReadSigningString(bad[0], bad[1], nil, 0, bad[2]); err == nil {
			t.Errorf("expected %q %q %q to be refused", bad[0], bad[1], bad[2])
		}
	}
}
