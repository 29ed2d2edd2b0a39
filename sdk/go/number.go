package geoledger

import (
	"math"
	"strconv"
	"strings"
)

// formatNumber writes a double as RFC 8785 section 3.2.2.3 requires: the ECMAScript
// Number.prototype.toString form (ECMA-262 section 7.1.12.1, "Number::toString").
//
// strconv's shortest 'e' formatting yields the digits s and exponent n that ECMA-262 asks for
// (fewest digits that round-trip, closest to the value); only the layout differs.
func formatNumber(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", &CanonicalizationError{Message: "expected a finite number, got " + strconv.FormatFloat(f, 'g', -1, 64)}
	}
	if f == 0 { // +0 and -0 alike
		return "0", nil
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	mantissa, exponent, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	digits := strings.Replace(mantissa, ".", "", 1)
	e, err := strconv.Atoi(exponent)
	if err != nil {
		return "", &CanonicalizationError{Message: "unexpected float layout " + mantissa + "e" + exponent}
	}
	k, n := len(digits), e+1 // value = 0.digits * 10**n
	var out string
	switch {
	case k <= n && n <= 21:
		out = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		out = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		out = "0." + strings.Repeat("0", -n) + digits
	default:
		out = digits[:1]
		if k > 1 {
			out += "." + digits[1:]
		}
		if n-1 >= 0 {
			out += "e+" + strconv.Itoa(n-1)
		} else {
			out += "e-" + strconv.Itoa(1-n)
		}
	}
	return sign + out, nil
}
