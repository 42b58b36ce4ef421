package otlp_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

func TestReceiverTakesOTLPLogs(t *testing.T) {
	tid := []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	sid := []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74}
	req := &collogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: serviceResource("dice-roller"),
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
			{
				TimeUnixNano: uint64(epoch.UnixNano()), SeverityText: "INFO",
				Body:    &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "roll result"}},
				TraceId: tid, SpanId: sid,
				Attributes: []*commonpb.KeyValue{
					{Key: "die_type", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "fair"}}},
					{Key: "roll_value", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 4}}},
				},
			},
			{
				// No time, no severity text: the observed time and the
				// severity number stand in.
				ObservedTimeUnixNano: uint64(epoch.Add(time.Second).UnixNano()),
				SeverityNumber:       logspb.SeverityNumber_SEVERITY_NUMBER_WARN,
				Body:                 &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 42}},
			},
		}}},
	}}}
	body, err := proto.Marshal(req)
	require.NoError(t, err)

	store := otlp.NewStore(otlp.Limits{})
	rec := post(otlp.NewReceiver(store), otlp.LogsPath, "application/x-protobuf", "gzip", gzipped(t, body))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var resp collogspb.ExportLogsServiceResponse
	require.NoError(t, proto.Unmarshal(rec.Body.Bytes(), &resp))

	logs := store.Logs("dice-roller", 0)
	require.Len(t, logs, 2)
	warn, info := logs[0], logs[1] // newest first
	assert.Equal(t, otlp.LogRecord{
		Time: epoch, Service: "dice-roller", Level: "INFO", Message: "roll result",
		TraceID: "5b8efff798038103d269b633813fc60c", SpanID: "eee19b7ec3c1b174",
		Fields: map[string]any{"die_type": "fair", "roll_value": int64(4)},
	}, withUTC(info))
	assert.Equal(t, "WARNING", warn.Level)
	assert.Equal(t, "42", warn.Message)
	assert.True(t, warn.Time.Equal(epoch.Add(time.Second)))
}

func TestReceiverTakesOTLPJSONLogs(t *testing.T) {
	body := `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"frontend"}}]},
	  "scopeLogs":[{"logRecords":[{"timeUnixNano":"1544712660300000000","severityNumber":17,"severityText":"ERROR",
	    "body":{"stringValue":"backend failed"},"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]}`
	store := otlp.NewStore(otlp.Limits{})
	rec := post(otlp.NewReceiver(store), otlp.LogsPath, "application/json", "", []byte(body))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{}`, rec.Body.String())

	logs := store.Logs("frontend", 0)
	require.Len(t, logs, 1)
	assert.Equal(t, "ERROR", logs[0].Level)
	assert.Equal(t, "5b8efff798038103d269b633813fc60c", logs[0].TraceID)
	assert.Equal(t, "eee19b7ec3c1b174", logs[0].SpanID)
}

func TestAddLogLine(t *testing.T) {
	tests := []struct {
		name, service, line string
		want                otlp.LogRecord // Time is checked only when set
	}{
		{
			name: "the services' JSON format", service: "dice-roller",
			line: `{"timestamp":"2026-05-04T10:00:00.5Z","level":"INFO","message":"async roll completed","service":"dice-roller",` +
				`"trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174","die_type":"fair","roll_index":2,"roll_value":5,"duration":0.25,"rolls":[3,5]}` + "\n",
			want: otlp.LogRecord{
				Time: epoch.Add(500 * time.Millisecond), Service: "dice-roller", Level: "INFO", Message: "async roll completed",
				TraceID: "5b8efff798038103d269b633813fc60c", SpanID: "eee19b7ec3c1b174",
				Fields: map[string]any{"die_type": "fair", "roll_index": int64(2), "roll_value": int64(5), "duration": 0.25, "rolls": []any{int64(3), int64(5)}},
			},
		},
		{
			name: "slog's default keys", service: "frontend",
			line: `{"time":"2026-05-04T10:00:00Z","level":"warn","msg":"unknown die"}`,
			want: otlp.LogRecord{Time: epoch, Service: "frontend", Level: "WARN", Message: "unknown die"},
		},
		{
			name: "service from the line when the caller does not know it",
			line: `{"level":"ERROR","message":"boom","service":"die-service"}`,
			want: otlp.LogRecord{Service: "die-service", Level: "ERROR", Message: "boom"},
		},
		{
			name: "unreadable timestamp stays visible", service: "frontend",
			line: `{"timestamp":"yesterday","message":"hi"}`,
			want: otlp.LogRecord{Service: "frontend", Message: "hi", Fields: map[string]any{"timestamp": "yesterday"}},
		},
		{
			name: "plain text", service: "frontend", line: "panic: runtime error\r\n",
			want: otlp.LogRecord{Service: "frontend", Message: "panic: runtime error"},
		},
		{
			name: "broken JSON is plain text", service: "frontend", line: `{"level":"INFO",`,
			want: otlp.LogRecord{Service: "frontend", Message: `{"level":"INFO",`},
		},
		{
			name: "two objects on a line are plain text", service: "frontend", line: `{"a":1} {"b":2}`,
			want: otlp.LogRecord{Service: "frontend", Message: `{"a":1} {"b":2}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := otlp.NewStore(otlp.Limits{})
			store.AddLogLine(tt.service, []byte(tt.line))
			logs := store.Logs("", 0)
			require.Len(t, logs, 1)
			got := logs[0]
			assert.False(t, got.Time.IsZero())
			if tt.want.Time.IsZero() {
				got.Time = time.Time{}
			}
			assert.Equal(t, tt.want, withUTC(got))
		})
	}
}

func TestAddLogLineIgnoresBlankLines(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	store.AddLogLine("frontend", []byte("\n"))
	store.AddLogLine("frontend", []byte("   "))
	assert.Empty(t, store.Logs("", 0))
}

func TestLogsAreBoundedPerService(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{MaxLogsPerService: 3, MaxLogServices: 2})
	for i := range 5 {
		store.AddLogs(otlp.LogRecord{Time: epoch.Add(time.Duration(i) * time.Second), Service: "a", Message: fmt.Sprint(i)})
	}
	var msgs []string
	for _, l := range store.Logs("a", 0) {
		msgs = append(msgs, l.Message)
	}
	assert.Equal(t, []string{"4", "3", "2"}, msgs, "the newest three, newest first")
	assert.Len(t, store.Logs("a", 2), 2)

	store.AddLogs(otlp.LogRecord{Service: "b"})
	store.AddLogs(otlp.LogRecord{Service: "a"}) // a logged more recently than b
	store.AddLogs(otlp.LogRecord{Service: "c"}) // a third ring: b's goes
	assert.Empty(t, store.Logs("b", 0))
	assert.NotEmpty(t, store.Logs("a", 0))
	assert.NotEmpty(t, store.Logs("c", 0))
}

func TestLogsOfAllServicesAreMergedByTime(t *testing.T) {
	store := otlp.NewStore(otlp.Limits{})
	store.AddLogs(
		otlp.LogRecord{Time: epoch, Service: "frontend", Message: "first"},
		otlp.LogRecord{Time: epoch.Add(2 * time.Second), Service: "frontend", Message: "third"},
	)
	store.AddLogs(otlp.LogRecord{Time: epoch.Add(time.Second), Service: "dice-roller", Message: "second"})
	var msgs []string
	for _, l := range store.Logs("", 0) {
		msgs = append(msgs, l.Message)
	}
	assert.Equal(t, []string{"third", "second", "first"}, msgs)
}

func withUTC(r otlp.LogRecord) otlp.LogRecord {
	if !r.Time.IsZero() {
		r.Time = r.Time.UTC()
	}
	return r
}
