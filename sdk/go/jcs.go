package geoledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxSafeInteger is 2**53 - 1: RFC 8785 numbers are IEEE 754 doubles, so a larger integer
// would silently become another number. Such integers are refused, as the server refuses them.
const maxSafeInteger = 1<<53 - 1

// Canonicalize returns the RFC 8785 (JCS) canonical UTF-8 bytes of a JSON value.
//
// Accepted: nil, bool, string, float64, float32, all int and uint types, json.Number,
// map[string]any, []any, and anything else encoding/json can marshal (it is marshalled and
// decoded first). Integers, including integer json.Number literals, must be within
// +-(2**53 - 1); NaN and infinities are refused; strings must be valid UTF-8.
func Canonicalize(value any) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeCanonical(&buf, value); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CanonicalizeJSON parses JSON text (numbers kept exactly, via json.Decoder.UseNumber) and
// returns its RFC 8785 canonical form.
func CanonicalizeJSON(data []byte) ([]byte, error) {
	value, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	return Canonicalize(value)
}

func decodeJSON(data []byte) (any, error) {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		return nil, &CanonicalizationError{Message: "expected JSON text: " + err.Error()}
	}
	if decoder.More() {
		return nil, &CanonicalizationError{Message: "expected one JSON value, got trailing data"}
	}
	return value, nil
}

func writeCanonical(buf *bytes.Buffer, value any) error {
	switch v := value.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		if v {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case string:
		return writeString(buf, v)
	case json.Number:
		return writeNumberLiteral(buf, string(v))
	case float64:
		return writeFloat(buf, v)
	case float32:
		// The decimal a float32 prints as, not its widened binary value, is what a caller means.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
		return writeFloat(buf, f)
	case int:
		return writeInt(buf, int64(v))
	case int8:
		return writeInt(buf, int64(v))
	case int16:
		return writeInt(buf, int64(v))
	case int32:
		return writeInt(buf, int64(v))
	case int64:
		return writeInt(buf, v)
	case uint:
		return writeUint(buf, uint64(v))
	case uint8:
		return writeUint(buf, uint64(v))
	case uint16:
		return writeUint(buf, uint64(v))
	case uint32:
		return writeUint(buf, uint64(v))
	case uint64:
		return writeUint(buf, v)
	case map[string]any:
		return writeObject(buf, v)
	case []any:
		buf.WriteByte('[')
		for i, element := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, element); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	default:
		return writeViaEncodingJSON(buf, value)
	}
	return nil
}

// writeViaEncodingJSON handles structs, typed maps and slices: encoding/json knows their field
// names and tags; decoding its output gives the generic form canonicalized above.
func writeViaEncodingJSON(buf *bytes.Buffer, value any) error {
	if rv := reflect.ValueOf(value); rv.Kind() == reflect.Pointer && rv.IsNil() {
		buf.WriteString("null")
		return nil
	}
	data, err := json.Marshal(value)
	if err != nil {
		return &CanonicalizationError{Message: fmt.Sprintf("expected a JSON value, got %T: %v", value, err)}
	}
	generic, err := decodeJSON(data)
	if err != nil {
		return err
	}
	return writeCanonical(buf, generic)
}

func writeObject(buf *bytes.Buffer, object map[string]any) error {
	type member struct {
		key   string
		utf16 []uint16
	}
	members := make([]member, 0, len(object))
	for key := range object {
		if !utf8.ValidString(key) {
			return &CanonicalizationError{Message: fmt.Sprintf("expected valid UTF-8 in object key, got %q", key)}
		}
		members = append(members, member{key, utf16.Encode([]rune(key))})
	}
	// RFC 8785 section 3.2.3: members sorted by their keys' UTF-16 code units.
	slices.SortFunc(members, func(a, b member) int { return slices.Compare(a.utf16, b.utf16) })
	buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := writeString(buf, m.key); err != nil {
			return err
		}
		buf.WriteByte(':')
		if err := writeCanonical(buf, object[m.key]); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// writeString escapes as RFC 8785 section 3.2.2.2: only '"', '\\' and U+0000..U+001F, with the
// short forms \b \t \n \f \r and lower-case \u00xx otherwise; everything else is raw UTF-8.
func writeString(buf *bytes.Buffer, s string) error {
	if !utf8.ValidString(s) {
		return &CanonicalizationError{Message: fmt.Sprintf("expected valid UTF-8, got %q", s)}
	}
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			buf.WriteString(`\"`)
		case c == '\\':
			buf.WriteString(`\\`)
		case c == '\b':
			buf.WriteString(`\b`)
		case c == '\t':
			buf.WriteString(`\t`)
		case c == '\n':
			buf.WriteString(`\n`)
		case c == '\f':
			buf.WriteString(`\f`)
		case c == '\r':
			buf.WriteString(`\r`)
		case c < 0x20:
			buf.WriteString(`\u00`)
			buf.WriteByte(hex[c>>4])
			buf.WriteByte(hex[c&0xf])
		default:
			buf.WriteByte(c)
		}
	}
	buf.WriteByte('"')
	return nil
}

func writeFloat(buf *bytes.Buffer, f float64) error {
	text, err := formatNumber(f)
	if err != nil {
		return err
	}
	buf.WriteString(text)
	return nil
}

func writeInt(buf *bytes.Buffer, i int64) error {
	if i > maxSafeInteger || i < -maxSafeInteger {
		return &CanonicalizationError{Message: fmt.Sprintf("expected an integer within +-(2**53 - 1), got %d", i)}
	}
	buf.WriteString(strconv.FormatInt(i, 10))
	return nil
}

func writeUint(buf *bytes.Buffer, u uint64) error {
	if u > maxSafeInteger {
		return &CanonicalizationError{Message: fmt.Sprintf("expected an integer within +-(2**53 - 1), got %d", u)}
	}
	buf.WriteString(strconv.FormatUint(u, 10))
	return nil
}

// writeNumberLiteral canonicalizes a JSON number literal. An integer literal (no fraction, no
// exponent) is an integer and must be safe; anything else is read as the nearest double.
func writeNumberLiteral(buf *bytes.Buffer, literal string) error {
	if !strings.ContainsAny(literal, ".eE") {
		n, ok := new(big.Int).SetString(literal, 10)
		if !ok {
			return &CanonicalizationError{Message: fmt.Sprintf("expected a JSON number, got %q", literal)}
		}
		if n.IsInt64() {
			return writeInt(buf, n.Int64())
		}
		return &CanonicalizationError{Message: fmt.Sprintf("expected an integer within +-(2**53 - 1), got %s", literal)}
	}
	f, err := strconv.ParseFloat(literal, 64)
	if err != nil || math.IsInf(f, 0) {
		return &CanonicalizationError{Message: fmt.Sprintf("expected a number within the double range, got %q", literal)}
	}
	return writeFloat(buf, f)
}
