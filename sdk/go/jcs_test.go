package geoledger

import (
	"encoding/json"
	"math"
	"testing"
)

func TestCanonicalizeRefusesWhatHasNoJCSForm(t *testing.T) {
	cases := map[string]any{
		"NaN":                    math.NaN(),
		"infinity":               math.Inf(-1),
		"int above 2**53-1":      int64(1 << 53),
		"uint above 2**53-1":     uint64(1 << 60),
		"literal above 2**53-1":  json.Number("9007199254740992"),
		"literal below -2**53+1": json.Number("-9007199254740992"),
		"literal out of range":   json.Number("1e400"),
		"invalid UTF-8 string":   "\xff",
		"invalid UTF-8 key":      map[string]any{"\xfe": 1},
		"channel":                make(chan int),
	}
	for name, value := range cases {
		if out, err := Canonicalize(value); err == nil {
			t.Errorf("%s: expected an error, got %s", name, out)
		}
	}
}

func TestCanonicalizeGoValues(t *testing.T) {
	type order struct {
		Total    float64 `json:"total"`
		Currency string  `json:"currency"`
		Items    []int   `json:"items"`
		Skipped  string  `json:"-"`
	}
	cases := []struct {
		value any
		want  string
	}{
		{map[string]any{"b": 1, "a": int8(-2), "c": uint16(3)}, `{"a":-2,"b":1,"c":3}`},
		{order{Total: 12.5, Currency: "EUR", Items: []int{2, 1}}, `{"currency":"EUR","items":[2,1],"total":12.5}`},
		{[]any{float32(0.1), 1e21, json.Number("4.50"), json.Number("-0"), int64(1<<53 - 1)}, `[0.1,1e+21,4.5,0,9007199254740991]`},
		{"<&>\u2028", "\"<&>\u2028\""},
		{map[string]string{"\u00e9": "x", "z": "y"}, `{"z":"y","é":"x"}`},
		{(*order)(nil), `null`},
	}
	for _, c := range cases {
		got, err := Canonicalize(c.value)
		if err != nil || string(got) != c.want {
			t.Errorf("Canonicalize(%#v) = %s (%v), want %s", c.value, got, err, c.want)
		}
	}
}

func TestVerifyIsStrictAboutSignatureText(t *testing.T) {
	key, _ := PrivateKeyFromSeed(make([]byte, 32))
	event, err := NewSigner(key, "acme").Sign("evt-1", "t", map[string]any{}, "2025-01-31T12:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	public := key.Public().(ed25519PublicKey)
	if !Verify(public, event) {
		t.Fatal("a fresh signature does not verify")
	}
	s := event.Signature
	for name, bad := range map[string]string{
		"padded":           s + "==",
		"newline inside":   s[:40] + "\n" + s[41:],
		"trailing newline": s[:85] + "\n",
		"truncated":        s[:85],
	} {
		if Verify(public, SignedEvent{Envelope: event.Envelope, Signature: bad}) {
			t.Errorf("%s signature verified", name)
		}
	}
}

func TestSignRefusesInvalidEnvelopes(t *testing.T) {
	key, _ := PrivateKeyFromSeed(make([]byte, 32))
	_, err := NewSigner(key, "Acme").Sign("evt-1", "t", map[string]any{}, "")
	if invalid, ok := err.(*InvalidEventError); !ok || invalid.Field != "tenant_id" {
		t.Fatalf("expected an InvalidEventError on tenant_id, got %v", err)
	}
}

func TestSignedEventJSONRoundTrip(t *testing.T) {
	key, _ := PrivateKeyFromSeed(make([]byte, 32))
	event, _ := NewSigner(key, "acme").Sign("evt-1", "t", map[string]any{"n": 1.5, "big": 9007199254740991}, "")
	data, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	var back SignedEvent
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !Verify(key.Public().(ed25519PublicKey), back) {
		t.Fatalf("round-tripped event %s does not verify", data)
	}
}
