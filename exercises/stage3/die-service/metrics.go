package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the die-service's business metrics.
type metrics struct {
	specsRequested *prometheus.CounterVec
	listRequests   prometheus.Counter
	specsLoaded    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	// exercise 3.1: begin
	// TODO (exercise 3.1): Instrument the die-service — read step 3.1 (workshop show 3 1); hints: workshop hint 3.1
	// exercise 3.1: end
	return &metrics{
		// exercise 3.1: begin
		// TODO (exercise 3.1): Instrument the die-service — read step 3.1 (workshop show 3 1); hints: workshop hint 3.1
		// exercise 3.1: end
	}
}
