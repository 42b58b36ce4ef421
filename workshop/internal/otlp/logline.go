package otlp

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// maxLogLine bounds one stored line, so a service printing a huge blob
// cannot make a full ring large.
const maxLogLine = 16 << 10

// AddLogLine stores one line a service printed on stdout. A line in the
// services' JSON format ({"timestamp","level","message","trace_id",
// "span_id",...}) becomes a record with those fields and the rest in
// Fields; any other line is kept as a plain message stamped with the time
// it arrived. service names the process the line came from; when it is ""
// the line's own "service" field is used.
func (s *Store) AddLogLine(service string, line []byte) {
	line = bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	rec, ok := parseJSONLogLine(line)
	if !ok {
		if len(line) > maxLogLine {
			line = line[:maxLogLine]
		}
		rec = LogRecord{Time: time.Now(), Message: strings.ToValidUTF8(string(line), "\uFFFD")}
	}
	if service != "" {
		rec.Service = service
	}
	s.AddLogs(rec)
}

// parseJSONLogLine reads a line of the services' slog JSON format. It also
// accepts slog's default keys ("time", "msg"), which a learner's logger
// may still use.
func parseJSONLogLine(line []byte) (LogRecord, bool) {
	if len(line) > maxLogLine || !bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) {
		return LogRecord{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // keep 42 an int64 rather than a float64
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil || dec.More() {
		return LogRecord{}, false
	}
	for k, v := range fields {
		fields[k] = typedJSON(v)
	}

	rec := LogRecord{Time: time.Now()}
	if ts, ok := take(fields, "timestamp", "time"); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			rec.Time = t
		} else {
			fields["timestamp"] = ts // unreadable: keep it visible
		}
	}
	rec.Level, _ = take(fields, "level")
	rec.Level = strings.ToUpper(rec.Level)
	rec.Message, _ = take(fields, "message", "msg")
	rec.Service, _ = take(fields, "service")
	rec.TraceID, _ = take(fields, "trace_id")
	rec.SpanID, _ = take(fields, "span_id")
	if len(fields) > 0 {
		rec.Fields = fields
	}
	return rec, true
}

// take removes the first of keys that holds a string and returns it.
func take(fields map[string]any, keys ...string) (string, bool) {
	for _, k := range keys {
		if v, ok := fields[k].(string); ok {
			delete(fields, k)
			return v, true
		}
	}
	return "", false
}

// typedJSON turns json.Numbers into int64 when integral, float64 otherwise,
// the same types OTLP attributes have.
func typedJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = typedJSON(x)
		}
	case []any:
		for i, x := range v {
			v[i] = typedJSON(x)
		}
	}
	return v
}
