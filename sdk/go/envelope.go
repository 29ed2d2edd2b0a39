package geoledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxPayloadBytes is the largest canonical (RFC 8785) size of a payload, in bytes.
const MaxPayloadBytes = 262144

// EnvelopeFields are the six fields a signature covers, and the only ones in the envelope.
var EnvelopeFields = []string{"tenant_id", "event_id", "key_id", "occurred_at", "type", "payload"}

const maxTypeChars = 128

var (
	tenantIDPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	identifierPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	// RFC 3339 section 5.6 date-time with a mandatory offset; "T" and "Z" may be lower case;
	// fractions up to nanoseconds, as the server accepts.
	rfc3339Pattern = regexp.MustCompile(
		`^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?([Zz]|[+-]([0-9]{2}):([0-9]{2}))$`)
)

// Envelope is what a client signs. OccurredAt is signed verbatim: keep the exact string.
// Payload values may be any JSON value Canonicalize accepts.
type Envelope struct {
	TenantID   string
	EventID    string
	KeyID      string
	OccurredAt string
	Type       string
	Payload    map[string]any
}

// SignedEvent is an envelope plus its signature (Ed25519, unpadded base64url).
type SignedEvent struct {
	Envelope
	Signature string
}

// Map returns the envelope as a JSON object with exactly the six signed fields.
func (e Envelope) Map() map[string]any {
	payload := e.Payload
	if payload == nil {
		payload = map[string]any{}
	}
	return map[string]any{
		"tenant_id":   e.TenantID,
		"event_id":    e.EventID,
		"key_id":      e.KeyID,
		"occurred_at": e.OccurredAt,
		"type":        e.Type,
		"payload":     payload,
	}
}

// Canonical returns the RFC 8785 bytes of the envelope's six fields.
func (e Envelope) Canonical() ([]byte, error) { return Canonicalize(e.Map()) }

// Validate checks every field rule the server enforces and returns an *InvalidEventError naming
// the first broken one.
func (e Envelope) Validate() error {
	if !tenantIDPattern.MatchString(e.TenantID) {
		return invalid("tenant_id", "expected 1-64 of [a-z0-9._-] starting a-z0-9, got %q", e.TenantID)
	}
	if !identifierPattern.MatchString(e.EventID) {
		return invalid("event_id", "expected 1-128 of [A-Za-z0-9._:-], got %q", e.EventID)
	}
	if !identifierPattern.MatchString(e.KeyID) {
		return invalid("key_id", "expected 1-128 of [A-Za-z0-9._:-], got %q", e.KeyID)
	}
	if err := checkOccurredAt(e.OccurredAt); err != nil {
		return err
	}
	if err := checkType(e.Type); err != nil {
		return err
	}
	return checkPayload(e.Payload)
}

func invalid(field, format string, args ...any) *InvalidEventError {
	return &InvalidEventError{Field: field, Message: fmt.Sprintf(format, args...)}
}

func checkOccurredAt(value string) error {
	m := rfc3339Pattern.FindStringSubmatch(value)
	if m == nil {
		return invalid("occurred_at", "expected an RFC 3339 date-time with offset, got %q", value)
	}
	number := func(i int) int {
		if m[i] == "" {
			return 0
		}
		n, _ := strconv.Atoi(m[i])
		return n
	}
	year, month, day := number(1), number(2), number(3)
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		number(4) > 23 || number(5) > 59 || number(6) > 60 || number(9) > 23 || number(10) > 59 {
		return invalid("occurred_at", "expected a real date-time, got %q", value)
	}
	return nil
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func checkType(value string) error {
	if !utf8.ValidString(value) {
		return invalid("type", "expected valid UTF-8, got %q", value)
	}
	count := utf8.RuneCountInString(value)
	if count < 1 || count > maxTypeChars {
		return invalid("type", "expected 1-%d characters, got %d", maxTypeChars, count)
	}
	for position, r := range []rune(value) {
		if unicode.IsControl(r) { // Unicode category Cc
			return invalid("type", "expected no control characters, got U+%04X at position %d", r, position)
		}
	}
	return nil
}

func checkPayload(payload map[string]any) error {
	if payload == nil {
		return invalid("payload", "expected a JSON object, got nil")
	}
	canonical, err := Canonicalize(payload)
	if err != nil {
		return invalid("payload", "%v", err)
	}
	if len(canonical) > MaxPayloadBytes {
		return invalid("payload", "expected at most %d canonical bytes, got %d", MaxPayloadBytes, len(canonical))
	}
	return nil
}

// MarshalJSON writes the wire form: the RFC 8785 canonical JSON of the six envelope fields and
// "signature", so the server parses exactly the values that were signed.
func (s SignedEvent) MarshalJSON() ([]byte, error) {
	object := s.Envelope.Map()
	object["signature"] = s.Signature
	return Canonicalize(object)
}

// UnmarshalJSON reads and validates the wire form; see ParseSignedEvent.
func (s *SignedEvent) UnmarshalJSON(data []byte) error {
	parsed, err := ParseSignedEvent(data)
	if err != nil {
		return err
	}
	*s = parsed
	return nil
}

// ParseEnvelope reads and validates an envelope: a JSON object with exactly the six fields.
// Payload numbers are kept as json.Number, so nothing is rounded before it is canonicalized.
func ParseEnvelope(data []byte) (Envelope, error) {
	object, err := decodeObject(data, EnvelopeFields)
	if err != nil {
		return Envelope{}, err
	}
	return envelopeFrom(object)
}

// ParseSignedEvent reads and validates a signed event: the six envelope fields and "signature".
// The signature itself is not checked; use Verify.
func ParseSignedEvent(data []byte) (SignedEvent, error) {
	object, err := decodeObject(data, append(append([]string{}, EnvelopeFields...), "signature"))
	if err != nil {
		return SignedEvent{}, err
	}
	envelope, err := envelopeFrom(object)
	if err != nil {
		return SignedEvent{}, err
	}
	signature, ok := object["signature"].(string)
	if !ok {
		return SignedEvent{}, invalid("signature", "expected a string, got %s", jsonKind(object["signature"]))
	}
	return SignedEvent{Envelope: envelope, Signature: signature}, nil
}

func decodeObject(data []byte, fields []string) (map[string]any, error) {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		return nil, invalid("event", "expected a JSON object: %v", err)
	}
	object, ok := value.(map[string]any)
	if !ok {
		return nil, invalid("event", "expected a JSON object, got %s", jsonKind(value))
	}
	for _, name := range fields {
		if _, present := object[name]; !present {
			return nil, invalid(name, "%s is required", name)
		}
	}
	for name := range object {
		known := false
		for _, field := range fields {
			known = known || field == name
		}
		if !known {
			return nil, invalid("event", "unexpected field %q; expected exactly %v", name, fields)
		}
	}
	return object, nil
}

func envelopeFrom(object map[string]any) (Envelope, error) {
	var envelope Envelope
	targets := map[string]*string{
		"tenant_id": &envelope.TenantID, "event_id": &envelope.EventID, "key_id": &envelope.KeyID,
		"occurred_at": &envelope.OccurredAt, "type": &envelope.Type,
	}
	for _, name := range EnvelopeFields[:5] {
		text, ok := object[name].(string)
		if !ok {
			return Envelope{}, invalid(name, "expected a string, got %s", jsonKind(object[name]))
		}
		*targets[name] = text
	}
	payload, ok := object["payload"].(map[string]any)
	if !ok {
		return Envelope{}, invalid("payload", "expected a JSON object, got %s", jsonKind(object["payload"]))
	}
	envelope.Payload = payload
	return envelope, envelope.Validate()
}

func jsonKind(value any) string {
	switch value.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", value)
}
