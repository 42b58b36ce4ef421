package check

import (
	"slices"

	dto "github.com/prometheus/client_model/go"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/session"
)

// Observation is everything a run of a stage produced.
type Observation struct {
	Stage      int
	Services   []string
	Answers    map[string]*Answer
	Metrics    map[string]map[string]*dto.MetricFamily // service → family name → family
	MetricsErr map[string]error
	Store      *otlp.Store
	// Stalled is the first probe the stage did not answer within the probe
	// budget; nil when it answered them all. The traffic stops there.
	Stalled *Answer

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
	return slices.Contains(o.Services, service)
}
