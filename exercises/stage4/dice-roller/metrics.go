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

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
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
		// TODO (exercise 4.4): Metrics for the async batches — read step 4.4 (workshop show 4 4); hints: workshop hint 4.4
		// exercise 4.4: end
	}
}
