package telemetry

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry is what a service's handlers use to emit telemetry. Main builds it
// from the global providers that SetupOTelSDK installed; tests build it around
// an in-memory span recorder and a fresh registry, so nothing global is shared
// between tests.
type Telemetry struct {
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
	Logger         *slog.Logger
	Registry       *prometheus.Registry
	HTTP           *HTTPMetrics
}

// New creates the service's metric registry (with the Go runtime and process
// collectors) and the automatic HTTP metrics on it.
func New(logger *slog.Logger, tp trace.TracerProvider, prop propagation.TextMapPropagator) *Telemetry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return &Telemetry{
		TracerProvider: tp,
		Propagator:     prop,
		Logger:         logger,
		Registry:       reg,
		HTTP:           NewHTTPMetrics(reg),
	}
}

// Tracer returns the tracer for the service's own spans.
func (t *Telemetry) Tracer(name string) trace.Tracer {
	return t.TracerProvider.Tracer(name)
}

// MetricsHandler serves the registry at /metrics. OpenMetrics is enabled
// because only that format carries exemplars (the trace ids on histograms).
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Observe records v on a histogram and, when the context carries a sampled
// span, attaches its trace id as an exemplar: a point on a latency panel then
// links to the trace that produced it.
func Observe(ctx context.Context, o prometheus.Observer, v float64) {
	sc := trace.SpanContextFromContext(ctx)
	if eo, ok := o.(prometheus.ExemplarObserver); ok && sc.IsSampled() {
		eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": sc.TraceID().String()})
		return
	}
	o.Observe(v)
}
