package telemetry_test

// These tests call SetupOTelSDK, which installs the otel globals: none of them
// runs in parallel, and each restores the globals it found.

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/go-o11y-workshop/kit/stages/stage2/internal/telemetry"
)

// restoreOTelGlobals undoes what a test's SetupOTelSDK installed globally.
func restoreOTelGlobals(t *testing.T) {
	prop, eh := otel.GetTextMapPropagator(), otel.GetErrorHandler()
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		otel.SetTextMapPropagator(prop)
		otel.SetErrorHandler(eh)
	})
}

// clearOTelEnv keeps the developer's own OTEL_* settings out of the test.
func clearOTelEnv(t *testing.T) {
	for _, name := range []string{
		"OTEL_SDK_DISABLED", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_TRACES_SAMPLER",
		"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES",
	} {
		t.Setenv(name, "")
	}
}

// blackHole is a collector that accepts connections and never answers.
type blackHole struct {
	ln       net.Listener
	accepted chan struct{} // closed at the first connection
	mu       sync.Mutex
	conns    []net.Conn
}

func newBlackHole(t *testing.T) *blackHole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &blackHole{ln: ln, accepted: make(chan struct{})}
	go func() {
		var once sync.Once
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			once.Do(func() { close(b.accepted) })
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			c.Close()
		}
	})
	return b
}

func TestSetupOTelSDKInstallsW3CPropagation(t *testing.T) {
	restoreOTelGlobals(t)
	clearOTelEnv(t)
	t.Setenv("OTEL_SDK_DISABLED", "true")

	shutdown, err := telemetry.SetupOTelSDK(t.Context(), "dice-roller", telemetry.NewLogger(&strings.Builder{}, "dice-roller"))
	require.NoError(t, err)
	require.NoError(t, shutdown(t.Context()))

	fields := otel.GetTextMapPropagator().Fields()
	assert.True(t, slices.Contains(fields, "traceparent"), "fields: %v", fields)
	assert.True(t, slices.Contains(fields, "baggage"), "fields: %v", fields)
}

// resourceSink is an OTLP/HTTP trace receiver that keeps the resource
// attributes of what it receives.
type resourceSink struct {
	*httptest.Server
	mu        sync.Mutex
	resources []map[string]any
}

func newResourceSink(t *testing.T) *resourceSink {
	s := &resourceSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			attrs := map[string]any{}
			for _, a := range rs.GetResource().GetAttributes() {
				if v := a.GetValue(); v.GetStringValue() != "" {
					attrs[a.GetKey()] = v.GetStringValue()
				} else {
					attrs[a.GetKey()] = v.GetIntValue()
				}
			}
			s.resources = append(s.resources, attrs)
		}
		s.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestSetupOTelSDKNamesTheService: the exported spans carry a resource that
// names the service (service.name) and the stage (workshop.stage, an int),
// and OTEL_SERVICE_NAME overrides the name given in code.
func TestSetupOTelSDKNamesTheService(t *testing.T) {
	tests := []struct{ envName, want string }{
		{"", "dice-roller"},
		{"roller-2", "roller-2"},
	}
	for _, tt := range tests {
		t.Run("OTEL_SERVICE_NAME="+tt.envName, func(t *testing.T) {
			restoreOTelGlobals(t)
			clearOTelEnv(t)
			sink := newResourceSink(t)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.URL)
			t.Setenv("OTEL_SERVICE_NAME", tt.envName)

			shutdown, err := telemetry.SetupOTelSDK(t.Context(), "dice-roller", telemetry.NewLogger(io.Discard, "dice-roller"))
			require.NoError(t, err)
			_, span := otel.Tracer("test").Start(context.Background(), "work")
			require.True(t, span.IsRecording(), "otel.Tracer gives no-op spans: is the tracer provider installed with otel.SetTracerProvider?")
			span.End()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			require.NoError(t, shutdown(ctx), "the shutdown flushes the span to the collector")

			sink.mu.Lock()
			defer sink.mu.Unlock()
			require.NotEmpty(t, sink.resources, "no span reached the collector: does the provider export through the OTLP/HTTP exporter?")
			res := sink.resources[0]
			assert.Equal(t, tt.want, res["service.name"], "service.name of the resource: %v", res)
			assert.Equal(t, int64(2), res["workshop.stage"], "workshop.stage of the resource, an int: %v", res)
		})
	}
}

func TestUnreachableCollectorIsAWarningNotAFailure(t *testing.T) {
	restoreOTelGlobals(t)
	clearOTelEnv(t)
	// A port where nothing listens: the export is refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	endpoint := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)

	var logs syncBuilder
	shutdown, err := telemetry.SetupOTelSDK(t.Context(), "dice-roller", telemetry.NewLogger(&logs, "dice-roller"))
	require.NoError(t, err)

	tracer := otel.Tracer("test")
	for range 10 {
		_, span := tracer.Start(context.Background(), "work")
		span.End()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = shutdown(ctx) // the flush fails; what matters is how that is reported

	lines := decodeLines(t, logs.String())
	var warnings []map[string]any
	for _, l := range lines {
		if l["message"] == "telemetry export failed" {
			warnings = append(warnings, l)
		}
	}
	require.Len(t, warnings, 1, "one warning, not one per span or batch: %s", logs.String())
	assert.Equal(t, "WARNING", warnings[0]["level"])
	assert.NotEmpty(t, warnings[0]["error"])
	assert.Contains(t, warnings[0], "suppressed")
}

func TestBlackHoleCollectorDoesNotBlockSpans(t *testing.T) {
	restoreOTelGlobals(t)
	clearOTelEnv(t)
	hole := newBlackHole(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+hole.ln.Addr().String())

	var logs syncBuilder
	shutdown, err := telemetry.SetupOTelSDK(t.Context(), "dice-roller", telemetry.NewLogger(&logs, "dice-roller"))
	require.NoError(t, err)
	tracer := otel.Tracer("test")

	// Fill one export batch (512 spans) so the exporter connects and gets stuck.
	for range 600 {
		_, span := tracer.Start(context.Background(), "warm-up")
		span.End()
	}
	select {
	case <-hole.accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the exporter never connected to the collector")
	}

	// The exporter now waits for an answer that never comes. Spans keep being
	// created and ended: more than the queue holds, so some are dropped.
	const n = 20_000
	ended := 0
	start := time.Now()
	for i := range n {
		_, span := tracer.Start(context.Background(), "request")
		span.End()
		ended = i + 1
	}
	spansTook := time.Since(start)
	assert.Equal(t, n, ended)
	t.Logf("%d spans started and ended in %v (%v each) while the exporter was stuck", n, spansTook, spansTook/n)

	// The bounded shutdown returns on its deadline, even though the collector
	// never answers.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start = time.Now()
	err = shutdown(ctx)
	shutdownTook := time.Since(start)
	t.Logf("shutdown with a 3s bound returned after %v: %v", shutdownTook, err)
	assert.Error(t, err, "the flush cannot have succeeded")
	assert.Less(t, shutdownTook, 3*time.Second+2*time.Second, "shutdown must honour its context")
}

// syncBuilder is a strings.Builder for the SDK's background goroutines.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
