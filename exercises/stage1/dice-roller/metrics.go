package main

import (
	"github.com/prometheus/client_golang/prometheus"
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
	// TODO (exercise 1.5): Count the rolls and their values — read step 1.5 (workshop show 1 5); hints: workshop hint 1.5
	// exercise 1.5: end
	return &metrics{
		// exercise 1.5: begin
		// TODO (exercise 1.5): Count the rolls and their values — read step 1.5 (workshop show 1 5); hints: workshop hint 1.5
		// exercise 1.5: end
	}
}
