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

// newMetrics registers the dice-roller's business metrics on reg, with the
// series of the known dice already there, at 0.
func newMetrics(reg prometheus.Registerer, dice []string) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		// die_type only ever holds a known die: unknown input never becomes a
		// label value.
		rolls: f.NewCounterVec(prometheus.CounterOpts{
			Name: "dice_rolls_total",
			Help: "Single rolls, by die and result (success or error).",
		}, []string{"die_type", "result"}),
		rollValue: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dice_roll_value",
			Help:    "Values rolled, one bucket per face value.",
			Buckets: []float64{1, 2, 3, 4, 5, 6, 7, 8},
		}, []string{"die_type"}),
	}
	// A series is born at its first WithLabelValues. Create every known one at
	// 0 now: rate() needs two samples, so a series born at its first error
	// would hide that error from an error-rate panel.
	for _, die := range dice {
		m.rolls.WithLabelValues(die, resultSuccess)
		m.rolls.WithLabelValues(die, resultError)
	}
	return m
}
