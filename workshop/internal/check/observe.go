// Package check verifies a stage module the way a grader would: it runs the
// stage, sends it known traffic, and checks what comes back — the answers,
// the metrics, the spans received over OTLP and the logs — against a table
// of checks, each with an id, a title, a hint and the lesson step to read.
package check

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/session"
)

// Answer is one probe request and what came back.
type Answer struct {
	Name    string // what the probe asked, e.g. "roll fair via frontend"
	Service string // the service asked
	Method  string
	URL     string
	Status  int
	Body    []byte
	Err     error
	TraceID string // the trace id the CLI sent in traceparent
	SpanID  string // the parent span id it sent
	Sent    time.Time
	Done    time.Time
}

// Observation is everything a run of a stage produced.
type Observation struct {
	Stage      int
	Services   []string
	Answers    map[string]*Answer
	Metrics    map[string]map[string]*dto.MetricFamily // service → family name → family
	MetricsErr map[string]error
	Store      *otlp.Store

	logs session.Lines // what each service printed lately, bounded
}

// AddLog records a line a service printed; only the most recent are kept
// (session.Lines).
func (o *Observation) AddLog(service string, line []byte) { o.logs.Add(service, line) }

// Logs returns the lines a service printed, the most recent ones kept.
func (o *Observation) Logs(service string) []string { return o.logs.Get(service) }

// LogsDropped says when older lines of service were not kept; "" otherwise.
func (o *Observation) LogsDropped(service string) string { return o.logs.DroppedNote(service) }

// has reports whether the stage has the service.
func (o *Observation) has(service string) bool {
	for _, s := range o.Services {
		if s == service {
			return true
		}
	}
	return false
}

// prober sends the probe requests, each with a traceparent of its own so the
// spans of each request can be found in the store by trace id.
type prober struct {
	client *http.Client
	obs    *Observation
}

func (p *prober) do(ctx context.Context, name, service, method, url string) *Answer {
	a := &Answer{Name: name, Service: service, Method: method, URL: url, TraceID: randomHex(16), SpanID: randomHex(8)}
	p.obs.Answers[name] = a
	a.Sent = time.Now()
	defer func() { a.Done = time.Now() }()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		a.Err = err
		return a
	}
	req.Header.Set("traceparent", fmt.Sprintf("00-%s-%s-01", a.TraceID, a.SpanID))
	resp, err := p.client.Do(req)
	if err != nil {
		a.Err = err
		return a
	}
	defer resp.Body.Close()
	a.Status = resp.StatusCode
	a.Body, a.Err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return a
}

// Request is the request for people: the method and the path with its
// query, without the host and its random port.
func (a *Answer) Request() string {
	target := a.URL
	if u, err := url.Parse(a.URL); err == nil {
		target = u.RequestURI()
	}
	return a.Method + " " + target
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// scrape reads a service's /metrics in the text format.
func scrape(ctx context.Context, client *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics answered %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics is not in the Prometheus text format: %w", err)
	}
	return families, nil
}

// labelsString formats a series' labels for messages: {a="x",b="y"}.
func labelsString(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	return "{" + strings.Join(parts, ",") + "}"
}
