package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
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
	// TODO (exercise 3.2): Measure and classify the lookup — read step 3.2 (workshop show 3 2); hints: workshop hint 3.2
	lookupCtx := ctx
	// exercise 3.2: end

	spec, status, err := d.fetch(lookupCtx, die)
	if ctx.Err() != nil {
		return Die{}, ctx.Err() // the caller left: the lookup has no outcome to count
	}

	// exercise 3.2: begin
	// TODO (exercise 3.2): Measure and classify the lookup — read step 3.2 (workshop show 3 2); hints: workshop hint 3.2
	_ = status
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
	// TODO (exercise 3.2): Measure and classify the lookup — read step 3.2 (workshop show 3 2); hints: workshop hint 3.2
	return lookupError
	// exercise 3.2: end
}
