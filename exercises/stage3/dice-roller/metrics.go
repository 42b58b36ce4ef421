package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Result label values.
const (
	resultSuccess = "success"
	resultError   = "error"
)

// unknownLabel is the identifier label of a lookup that did not prove the die
// exists: the dice-roller has no list of dice, so only a success names one.
const unknownLabel = "unknown"

// metrics are the dice-roller's business metrics.
type metrics struct {
	rolls              *prometheus.CounterVec
	rollValue          *prometheus.HistogramVec
	dieServiceRequests *prometheus.CounterVec
	dieServiceDuration prometheus.Histogram
}

// newMetrics registers the dice-roller's business metrics on reg, with the
// series that are known before any request already there, at 0.
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		// die_type only ever holds a die the die-service knows: unknown input
		// never becomes a label value.
		rolls: f.NewCounterVec(prometheus.CounterOpts{
			Name: "dice_rolls_total",
			Help: "Single rolls, by die and result (success or error).",
		}, []string{"die_type", "result"}),
		rollValue: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dice_roll_value",
			Help:    "Values rolled, one bucket per face value.",
			Buckets: []float64{1, 2, 3, 4, 5, 6, 7, 8},
		}, []string{"die_type"}),
		dieServiceRequests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "die_service_requests_total",
			Help: "Lookups in the die-service, by identifier and outcome (success, not_found, error, timeout, unavailable).",
		}, []string{"identifier", "status"}),
		dieServiceDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "die_service_request_duration_seconds",
			Help:    "Time of a lookup in the die-service.",
			Buckets: prometheus.DefBuckets,
		}),
	}
	// exercise 3.2: begin
	// TODO (exercise 3.2): Measure and classify the lookup — read step 3.2 (workshop show 3 2); hints: workshop hint 3.2
	// exercise 3.2: end
	return m
}

// dieKnown is called each time the die-service has vouched for a die. Its
// series are created at 0 (WithLabelValues without Inc) the first time, so
// that its first failed roll is an increase rate() can see; the dice-roller
// has no list of dice, so this is the first moment they can be created.
func (m *metrics) dieKnown(die string) {
	// exercise 3.2: begin
	// TODO (exercise 3.2): Measure and classify the lookup — read step 3.2 (workshop show 3 2); hints: workshop hint 3.2
	// exercise 3.2: end
}
