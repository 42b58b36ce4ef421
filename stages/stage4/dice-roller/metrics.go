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

	asyncRolls      *prometheus.CounterVec
	asyncBatchSize  prometheus.Histogram
	asyncDuration   prometheus.Histogram
	asyncInProgress prometheus.Gauge
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

		// exercise 4.4: begin
		asyncRolls: f.NewCounterVec(prometheus.CounterOpts{
			Name: "async_rolls_total",
			Help: "Rolls made inside concurrent batches, by die and result.",
		}, []string{"die_type", "result"}),
		asyncBatchSize: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "async_roll_batch_size",
			Help:    "Number of dice asked for per /roll-async batch.",
			Buckets: []float64{1, 2, 3, 5, 10, 15, 20},
		}),
		asyncDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "async_roll_duration_seconds",
			Help:    "Time to roll a whole /roll-async batch: about its slowest roll.",
			Buckets: []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5},
		}),
		asyncInProgress: f.NewGauge(prometheus.GaugeOpts{
			Name: "async_rolls_in_progress",
			Help: "Rolls of /roll-async batches running right now.",
		}),
		// exercise 4.4: end
	}
	// A failed lookup is counted under "unknown", whatever the die: these
	// series are known now, so they start at 0 and rate() sees the first
	// failure as an increase.
	for _, status := range []string{lookupNotFound, lookupError, lookupTimeout, lookupUnavailable} {
		m.dieServiceRequests.WithLabelValues(unknownLabel, status)
	}
	return m
}

// dieKnown is called each time the die-service has vouched for a die. Its
// series are created at 0 (WithLabelValues without Inc) the first time, so
// that its first failed roll is an increase rate() can see; the dice-roller
// has no list of dice, so this is the first moment they can be created.
func (m *metrics) dieKnown(die string) {
	for _, result := range []string{resultSuccess, resultError} {
		m.rolls.WithLabelValues(die, result)
		// exercise 4.4: begin
		m.asyncRolls.WithLabelValues(die, result)
		// exercise 4.4: end
	}
}
