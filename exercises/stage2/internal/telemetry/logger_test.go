package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/go-o11y-workshop/kit/exercises/stage2/internal/telemetry"
)

var (
	traceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	spanIDPattern  = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// decodeLines decodes one JSON object per line, failing on anything else.
func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line map[string]any
		require.NoErrorf(t, json.Unmarshal(sc.Bytes(), &line), "not a JSON object: %s", sc.Text())
		lines = append(lines, line)
	}
	return lines
}

func TestLoggerFieldsAndLevels(t *testing.T) {
	var buf bytes.Buffer
	logger := telemetry.NewLogger(&buf, "dice-roller")
	before := time.Now().Add(-time.Second)
	logger.Info("roll result", "die_type", "fair", "roll_value", 4)
	logger.Warn("invalid die", "error", "unknown die")
	logger.Error("roll failed")
	logger.Debug("not shown: below the default level")

	lines := decodeLines(t, buf.String())
	require.Len(t, lines, 3, "one JSON object per line, DEBUG filtered out: %s", buf.String())
	wantLevels := []string{"INFO", "WARNING", "ERROR"}
	wantMessages := []string{"roll result", "invalid die", "roll failed"}
	for i, line := range lines {
		assert.Equal(t, wantLevels[i], line["level"], "line %d", i)
		assert.Equal(t, wantMessages[i], line["message"], "line %d", i)
		assert.Equal(t, "dice-roller", line["service"], "line %d", i)
		for _, builtin := range []string{"time", "msg"} {
			assert.NotContains(t, line, builtin, "slog's own key %q must be renamed", builtin)
		}
		raw, ok := line["timestamp"].(string)
		require.True(t, ok, "line %d has no timestamp: %v", i, line)
		ts, err := time.Parse(time.RFC3339, raw)
		require.NoError(t, err, "timestamp %q is not RFC 3339", raw)
		assert.True(t, strings.HasSuffix(raw, "Z"), "timestamp %q is not UTC", raw)
		assert.WithinDuration(t, before, ts, time.Minute)
		assert.NotContains(t, line, "trace_id", "no span in context, no trace id")
		assert.NotContains(t, line, "span_id")
	}
	assert.Equal(t, "fair", lines[0]["die_type"])
	assert.Equal(t, float64(4), lines[0]["roll_value"])
}

func TestLoggerStampsTheCurrentSpan(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "GET /roll")
	defer span.End()
	sc := span.SpanContext()

	var buf bytes.Buffer
	base := telemetry.NewLogger(&buf, "dice-roller")
	base.InfoContext(ctx, "plain")
	base.With("die_type", "fair").WarnContext(ctx, "with attrs")
	base.ErrorContext(ctx, "error level")
	base.Info("no context")

	lines := decodeLines(t, buf.String())
	require.Len(t, lines, 4)
	for i, line := range lines[:3] {
		assert.Equal(t, sc.TraceID().String(), line["trace_id"],
			"line %d has no trace id: does traceHandler.Handle add it, and do WithAttrs and WithGroup wrap "+
				"the handler they return (NewLogger's own .With(\"service\", ...) goes through WithAttrs)? %v", i, line)
		assert.Equal(t, sc.SpanID().String(), line["span_id"], "line %d: %v", i, line)
		assert.Regexp(t, traceIDPattern, line["trace_id"])
		assert.Regexp(t, spanIDPattern, line["span_id"])
	}
	assert.Equal(t, "WARNING", lines[1]["level"])
	assert.Equal(t, "fair", lines[1]["die_type"])
	assert.NotContains(t, lines[3], "trace_id", "logging without the context loses the link to the trace")
}
