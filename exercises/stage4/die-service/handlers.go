package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-o11y-workshop/kit/exercises/stage4/internal/service"
	"github.com/go-o11y-workshop/kit/exercises/stage4/internal/telemetry"
)

// unknownLabel is the metric label value for anything outside the catalog.
const unknownLabel = "unknown"

type server struct {
	catalog Catalog
	tel     *telemetry.Telemetry
	log     *slog.Logger
	metrics *metrics
}

func newServer(catalog Catalog, tel *telemetry.Telemetry) *server {
	m := newMetrics(tel.Registry)
	m.specsLoaded.Set(float64(len(catalog)))
	// Every identifier the counter can take is known from here on: each
	// series starts at 0, so rate() sees the first request of each as an
	// increase (a series born at its first Inc has no 0 to increase from).
	for _, id := range append(catalog.Identifiers(), unknownLabel) {
		m.specsRequested.WithLabelValues(id)
	}
	return &server{catalog: catalog, tel: tel, log: tel.Logger, metrics: m}
}

func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(telemetry.TraceRequests(s.tel, serviceName), s.tel.HTTP.Middleware)
	r.NotFound(service.NotFound("/", "/dice", "/healthz", "/metrics"))
	r.MethodNotAllowed(service.MethodNotAllowed)

	r.Get("/", s.handleIndex)
	r.Get("/healthz", service.Healthz)
	r.Method(http.MethodGet, "/metrics", s.tel.MetricsHandler())
	r.Get("/dice", s.handleDice)
	// Every route's request counters exist from the start, at 0.
	s.tel.HTTP.InitRoutes(r)
	return r
}

func (s *server) handleIndex(w http.ResponseWriter, _ *http.Request) {
	service.WriteJSON(w, http.StatusOK, map[string]any{
		"service": serviceName,
		"stage":   telemetry.Stage,
		"endpoints": []string{
			"GET /dice", "GET /dice?identifier={id}", "GET /healthz", "GET /metrics",
		},
	})
}

// handleDice lists the dice, or with ?identifier= answers one die's spec.
func (s *server) handleDice(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !r.URL.Query().Has("identifier") {
		s.metrics.listRequests.Inc()
		ids := s.catalog.Identifiers()
		s.log.InfoContext(ctx, "die list requested", "count", len(ids))
		service.WriteJSON(w, http.StatusOK, map[string]any{"identifiers": ids})
		return
	}

	id := service.Param(r, "identifier")
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(attribute.String("die.identifier", id))

	spec, found := s.catalog[id]
	span.SetAttributes(attribute.Bool("die.found", found))
	if !found {
		s.metrics.specsRequested.WithLabelValues(unknownLabel).Inc()
		valid := s.catalog.Identifiers()
		s.log.WarnContext(ctx, "unknown die identifier", "identifier", id)
		service.WriteJSON(w, http.StatusNotFound, notFoundBody{
			Error: fmt.Sprintf("unknown die identifier %q; valid: %s", id, strings.Join(valid, ", ")),
			Valid: valid,
		})
		return
	}

	s.metrics.specsRequested.WithLabelValues(id).Inc()
	s.log.InfoContext(ctx, "die specification requested", "identifier", id)
	service.WriteJSON(w, http.StatusOK, map[string]any{"identifier": id, "specification": spec})
}

// notFoundBody also lists the valid identifiers as data, so the dice-roller
// can name them in its own error without a second request.
type notFoundBody struct {
	Error string   `json:"error"`
	Valid []string `json:"valid"`
}
