package check

import (
	"slices"
	"sync"

	dto "github.com/prometheus/client_model/go"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
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

	mu   sync.Mutex
	logs map[string][]string // service → stdout lines
}

// AddLog records a line a service printed.
func (o *Observation) AddLog(service string, line []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.logs == nil {
		o.logs = map[string][]string{}
	}
	o.logs[service] = append(o.logs[service], string(line))
}

// Logs returns the lines a service printed.
func (o *Observation) Logs(service string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.logs[service]...)
}

// has reports whether the stage has the service.
func (o *Observation) has(service string) bool {
	return slices.Contains(o.Services, service)
}
