package service_test

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-o11y-workshop/kit/exercises/stage4/internal/service"
)

// FuzzParseTimes feeds ParseTimes any string a client can put in ?times=.
// The seeds are in testdata/fuzz/FuzzParseTimes; a longer run:
//
//	go test -run '^$' -fuzz '^FuzzParseTimes$' -fuzztime 30s ./internal/service
func FuzzParseTimes(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := service.ParseTimes(raw)
		want, ok := decimalInRange(raw)

		if err == nil {
			if !ok {
				t.Fatalf("ParseTimes(%q) = %d: accepted a value that is not an integer from %d to %d",
					raw, got, service.MinTimes, service.MaxTimes)
			}
			if got != want {
				t.Fatalf("ParseTimes(%q) = %d, want %d", raw, got, want)
			}
			return
		}
		if ok {
			t.Fatalf("ParseTimes(%q) refused a valid batch size %d: %v", raw, want, err)
		}
		// The message is answered as JSON to the client and logged: it must
		// say what is valid, quote what was sent, and stay valid UTF-8 (the
		// raw value is escaped, not pasted).
		msg := err.Error()
		if !strings.Contains(msg, "valid: an integer from "+strconv.Itoa(service.MinTimes)+" to "+strconv.Itoa(service.MaxTimes)) {
			t.Fatalf("ParseTimes(%q): the error does not name the valid range: %s", raw, msg)
		}
		if raw == "" && !strings.Contains(msg, `missing query parameter "times"`) {
			t.Fatalf(`ParseTimes(""): the error does not say that "times" is missing: %s`, msg)
		}
		if raw != "" && !strings.Contains(msg, strconv.Quote(raw)) {
			t.Fatalf("ParseTimes(%q): the error does not quote the value: %s", raw, msg)
		}
		if !utf8.ValidString(msg) {
			t.Fatalf("ParseTimes(%q): the error is not valid UTF-8: %q", raw, msg)
		}
	})
}

// decimalInRange is the model ParseTimes is checked against, written without
// strconv: an optional sign and ASCII decimal digits (leading zeros allowed),
// whose value is an accepted batch size.
func decimalInRange(raw string) (int, bool) {
	digits := raw
	negative := false
	if digits != "" && (digits[0] == '+' || digits[0] == '-') {
		negative = digits[0] == '-'
		digits = digits[1:]
	}
	if digits == "" {
		return 0, false
	}
	n := 0
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= service.MaxTimes { // stop growing once out of range: no overflow
			n = n*10 + int(c-'0')
		}
	}
	if negative {
		n = -n
	}
	return n, n >= service.MinTimes && n <= service.MaxTimes
}
