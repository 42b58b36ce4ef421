package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/go-o11y-workshop/kit/stages/stage4/internal/service"
	"github.com/go-o11y-workshop/kit/stages/stage4/internal/telemetry"
)

type server struct {
	tel     *telemetry.Telemetry
	log     *slog.Logger
	tracer  trace.Tracer
	metrics *metrics
	dice    *dieService
	roller  roller
}

func newServer(cfg config, tel *telemetry.Telemetry) *server {
	m := newMetrics(tel.Registry)
	return &server{
		tel:     tel,
		log:     tel.Logger,
		tracer:  tel.Tracer(serviceName),
		metrics: m,
		dice: &dieService{
			baseURL: cfg.dieServiceURL,
			client:  tel.NewHTTPClient(0), // the lookup's context carries the timeout
			timeout: cfg.lookupTimeout,
			metrics: m,
		},
		roller: newRoller(cfg.maxDelay),
	}
}

func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(telemetry.TraceRequests(s.tel, serviceName), s.tel.HTTP.Middleware)
	r.NotFound(service.NotFound("/", "/roll", "/roll-async", "/healthz", "/metrics"))
	r.MethodNotAllowed(service.MethodNotAllowed)

	r.Get("/", s.handleIndex)
	r.Get("/healthz", service.Healthz)
	r.Method(http.MethodGet, "/metrics", s.tel.MetricsHandler())
	r.Get("/roll", s.handleRoll)
	r.Get("/roll-async", s.handleRollAsync)
	// Every route's request counters exist from the start, at 0.
	s.tel.HTTP.InitRoutes(r)
	return r
}

func (s *server) handleIndex(w http.ResponseWriter, _ *http.Request) {
	service.WriteJSON(w, http.StatusOK, map[string]any{
		"service": serviceName,
		"stage":   telemetry.Stage,
		"endpoints": []string{
			"GET /roll?die={id}", "GET /roll-async?die={id}&times={1-20}", "GET /healthz", "GET /metrics",
		},
	})
}

// handleRoll rolls one die: GET /roll?die=fair → {"roll": 4}.
func (s *server) handleRoll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	span := trace.SpanFromContext(ctx)
	die := service.Param(r, "die")
	s.log.InfoContext(ctx, "roll request received", "die_type", die)
	span.SetAttributes(attribute.String("die.type", die))

	if die == "" {
		s.invalid(ctx, w, "die", errMissingDie.Error())
		return
	}
	spec, ok := s.resolveDie(ctx, w, die)
	if !ok {
		return
	}

	value, err := s.roller.roll(ctx, spec)
	switch {
	case errors.Is(err, errRollFailed):
		s.metrics.rolls.WithLabelValues(die, resultError).Inc()
		span.SetAttributes(attribute.Bool("die.error", true))
		// otelhttp sets the status again (without a message) for a 5xx: the
		// recorded error event is what keeps the reason on the span.
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		s.log.ErrorContext(ctx, "roll failed", "die_type", die, "error", err.Error())
		service.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("rolling %s failed: %v", die, err))
	case err != nil:
		// The client went away during the delay; nobody reads an answer.
		s.log.InfoContext(ctx, "roll cancelled", "die_type", die, "error", err.Error())
		service.WriteError(w, service.StatusClientClosedRequest, "client closed the request")
	default:
		s.metrics.rolls.WithLabelValues(die, resultSuccess).Inc()
		telemetry.Observe(ctx, s.metrics.rollValue.WithLabelValues(die), float64(value))
		span.SetAttributes(attribute.Int("die.result", value), attribute.Bool("die.error", false))
		s.log.InfoContext(ctx, "roll result", "die_type", die, "roll_value", value)
		service.WriteJSON(w, http.StatusOK, map[string]int{"roll": value})
	}
}

// handleRollAsync rolls `times` dice concurrently:
// GET /roll-async?die=fair&times=5 → {"total": 18, "rolls": [3,5,2,6,2], "count": 5}.
func (s *server) handleRollAsync(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// exercise 4.3: begin
	span := trace.SpanFromContext(ctx)
	// exercise 4.3: end
	die := service.Param(r, "die")
	// exercise 4.3: begin
	span.SetAttributes(attribute.String("die.type", die))
	// exercise 4.3: end

	// Both parameters are checked before the die-service is asked anything.
	if die == "" {
		s.invalid(ctx, w, "die", errMissingDie.Error())
		return
	}
	times, err := service.ParseTimes(service.Param(r, "times"))
	if err != nil {
		s.invalid(ctx, w, "times", err.Error())
		return
	}
	// exercise 4.3: begin
	span.SetAttributes(attribute.Int("async.batch_size", times))
	// exercise 4.3: end

	spec, ok := s.resolveDie(ctx, w, die)
	if !ok {
		return
	}
	s.log.InfoContext(ctx, "async roll batch started", "die_type", die, "times", times)
	// exercise 4.4: begin
	s.metrics.asyncBatchSize.Observe(float64(times))
	// exercise 4.4: end

	start := time.Now()
	rolls, err := s.rollBatch(ctx, die, spec, times)
	elapsed := time.Since(start)
	// exercise 4.4: begin
	telemetry.Observe(ctx, s.metrics.asyncDuration, elapsed.Seconds())
	// exercise 4.4: end

	var failed *rollFailure
	switch {
	case errors.As(err, &failed):
		// exercise 4.3: begin
		span.SetAttributes(attribute.Int("async.failed_roll_index", failed.index))
		span.RecordError(failed)
		span.SetStatus(codes.Error, failed.Error())
		// exercise 4.3: end
		s.log.ErrorContext(ctx, "async roll batch failed", "die_type", die, "times", times,
			"failed_roll_index", failed.index, "error", failed.err.Error())
		service.WriteError(w, http.StatusInternalServerError, fmt.Sprintf("rolling %s failed: %v", die, failed))
	case err != nil:
		s.log.InfoContext(ctx, "async roll batch cancelled", "die_type", die, "times", times, "error", err.Error())
		service.WriteError(w, service.StatusClientClosedRequest, "client closed the request")
	default:
		total := 0
		for _, v := range rolls {
			total += v
		}
		// exercise 4.3: begin
		span.SetAttributes(attribute.Int("async.total_result", total))
		// exercise 4.3: end
		s.log.InfoContext(ctx, "async roll batch completed", "die_type", die, "times", times,
			"total", total, "rolls", rolls, "duration_ms", elapsed.Milliseconds())
		service.WriteJSON(w, http.StatusOK, batchResult{Total: total, Rolls: rolls, Count: len(rolls)})
	}
}

type batchResult struct {
	Total int   `json:"total"`
	Rolls []int `json:"rolls"`
	Count int   `json:"count"`
}

var errMissingDie = errors.New(`missing query parameter "die"; valid: a die identifier known to the die-service (GET /dice on the die-service lists them), such as fair`)

// resolveDie finds the die in the die-service, or answers the request itself:
// 400 when the die does not exist, 503 when the die-service cannot tell.
func (s *server) resolveDie(ctx context.Context, w http.ResponseWriter, die string) (Die, bool) {
	spec, err := s.dice.lookup(ctx, die)
	var unknown *unknownDieError
	var down *dieServiceDownError
	switch {
	case err == nil:
		s.metrics.dieKnown(die) // the die-service vouched for it: its series may exist
		return spec, true
	case ctx.Err() != nil:
		// The client went away during the lookup: not the die-service's fault.
		s.log.InfoContext(ctx, "request cancelled during the die lookup", "die_type", die)
		service.WriteError(w, service.StatusClientClosedRequest, "client closed the request")
	case errors.As(err, &unknown):
		s.invalid(ctx, w, "die", unknown.Error())
	case errors.As(err, &down):
		trace.SpanFromContext(ctx).RecordError(down)
		trace.SpanFromContext(ctx).SetStatus(codes.Error, down.Error())
		s.log.ErrorContext(ctx, "die-service unavailable", "die_type", die, "status", down.status, "error", down.err.Error())
		service.WriteError(w, http.StatusServiceUnavailable, fmt.Sprintf("cannot look up die %q: %v", die, down))
	default:
		s.log.ErrorContext(ctx, "die lookup failed", "die_type", die, "error", err.Error())
		service.WriteError(w, http.StatusInternalServerError, err.Error())
	}
	return Die{}, false
}

// invalid answers a bad parameter with 400 and logs it at WARNING.
func (s *server) invalid(ctx context.Context, w http.ResponseWriter, param, msg string) {
	s.log.WarnContext(ctx, "invalid "+param, "error", msg)
	service.WriteError(w, http.StatusBadRequest, msg)
}
