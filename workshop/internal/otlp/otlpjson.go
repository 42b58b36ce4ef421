package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// idFields are the JSON keys of OTLP's id fields (the spec's lowerCamelCase,
// and the proto names protojson also accepts). In OTLP/JSON only these are
// object keys: attribute names are the *values* of "key" fields, so an
// attribute called "traceId" is never touched.
var idFields = map[string]bool{
	"traceId": true, "spanId": true, "parentSpanId": true,
	"trace_id": true, "span_id": true, "parent_span_id": true,
}

// hexIDsToBase64 prepares an OTLP/JSON body for protojson. OTLP/JSON
// deviates from the proto3 JSON mapping in one place: trace and span ids
// are hex strings, where protojson expects base64 for every bytes field.
// Decoding as-is would not fail — a 32-digit hex string is valid base64 —
// it would silently yield 24-byte garbage ids.
func hexIDsToBase64(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // re-encode numbers verbatim: int64 values must not pass through float64
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("unexpected data after the JSON object")
	}
	if err := rewriteIDs(doc); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

func rewriteIDs(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && idFields[k] {
				b, err := hex.DecodeString(s)
				if err != nil {
					return fmt.Errorf("%s %q: OTLP/JSON ids are hex strings: %w", k, s, err)
				}
				v[k] = base64.StdEncoding.EncodeToString(b)
				continue
			}
			if err := rewriteIDs(x); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range v {
			if err := rewriteIDs(x); err != nil {
				return err
			}
		}
	}
	return nil
}
