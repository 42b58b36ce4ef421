package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/go-o11y-workshop/kit/stages/stage3/internal/telemetry"
)

// Outcomes of a die-service lookup: the status label of die_service_requests_total.
const (
	lookupSuccess     = "success"
	lookupNotFound    = "not_found"
	lookupError       = "error"
	lookupTimeout     = "timeout"
	lookupUnavailable = "unavailable"
)

// unknownDieError: the die-service does not know the die (the caller's mistake, 400).
type unknownDieError struct {
	die   string
	valid []string
}

func (e *unknownDieError) Error() string {
	return fmt.Sprintf("unknown die %q; valid: %s", e.die, strings.Join(e.valid, ", "))
}

// dieServiceDownError: the die-service could not answer (our problem, 503).
type dieServiceDownError struct {
	status string // lookupTimeout, lookupUnavailable or lookupError
	err    error
}

func (e *dieServiceDownError) Error() string {
	return fmt.Sprintf("die-service %s: %v", e.status, e.err)
}

// dieService looks dice up in the die-service.
type dieService struct {
	baseURL string
	client  *http.Client // instrumented: the lookup continues the request's trace
	timeout time.Duration
	metrics *metrics
}

// lookup asks the die-service for a die's specification.
func (d *dieService) lookup(ctx context.Context, die string) (Die, error) {
	// exercise 3.2: begin
	// exercise 3.2: stub: lookupCtx := ctx
	// The bound lives in its own context: ctx stays the caller's, so that a
	// timeout of the lookup is told apart from a caller who left.
	lookupCtx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	start := time.Now()
	// exercise 3.2: end

	spec, status, err := d.fetch(lookupCtx, die)
	if ctx.Err() != nil {
		return Die{}, ctx.Err() // the caller left: the lookup has no outcome to count
	}

	// exercise 3.2: begin
	// exercise 3.2: stub: _ = status
	// The identifier label is the die only once the die-service vouched for it.
	label := unknownLabel
	if status == lookupSuccess {
		label = die
	}
	d.metrics.dieServiceRequests.WithLabelValues(label, status).Inc()
	telemetry.Observe(ctx, d.metrics.dieServiceDuration, time.Since(start).Seconds())
	// exercise 3.2: end
	return spec, err
}

func (d *dieService) fetch(ctx context.Context, die string) (Die, string, error) {
	u := d.baseURL + "/dice?identifier=" + url.QueryEscape(die)
	// With ctx the request carries the lookup's deadline and, through an
	// instrumented client, the caller's trace.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Die{}, lookupError, &dieServiceDownError{lookupError, err}
	}
	resp, err := d.client.Do(req)
	if err != nil {
		status := classify(err)
		return Die{}, status, &dieServiceDownError{status, err}
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusOK:
		var body struct {
			Specification Die `json:"specification"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Specification.Faces) == 0 {
			return Die{}, lookupError, &dieServiceDownError{lookupError, fmt.Errorf("unreadable specification (%v)", err)}
		}
		return body.Specification, lookupSuccess, nil
	case http.StatusNotFound:
		var body struct {
			Valid []string `json:"valid"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return Die{}, lookupNotFound, &unknownDieError{die: die, valid: body.Valid}
	default:
		return Die{}, lookupError, &dieServiceDownError{lookupError, fmt.Errorf("answered %s", resp.Status)}
	}
}

// classify tells a die-service that is not there from one that is too slow,
// from the error client.Do returned. That error wraps others (*url.Error
// around *net.OpError around the system call's error): errors.Is and
// errors.As look through every layer, so no error text is ever compared.
func classify(err error) string {
	// exercise 3.2: begin
	// exercise 3.2: stub: return lookupError
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return lookupTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &dnsErr):
		return lookupUnavailable
	default:
		return lookupError
	}
	// exercise 3.2: end
}
