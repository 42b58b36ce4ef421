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
	rolls     *prometheus.CounterVec
	rollValue *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	// exercise 1.5: begin
	f := promauto.With(reg)
	// exercise 1.5: end
	return &metrics{
		// exercise 1.5: begin
		// die_type only ever holds a die we know (fair or risky): unknown input
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
		// exercise 1.5: end
	}
}
