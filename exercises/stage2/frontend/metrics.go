package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the frontend's business metrics.
type metrics struct {
	clicks   *prometheus.CounterVec
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	// exercise 2.4: begin
	// TODO (exercise 2.4): Measure what users see — read step 2.4 (workshop show 2 4); hints: workshop hint 2.4
	// exercise 2.4: end
	return &metrics{
		// exercise 2.4: begin
		// TODO (exercise 2.4): Measure what users see — read step 2.4 (workshop show 2 4); hints: workshop hint 2.4
		// exercise 2.4: end
	}
}
