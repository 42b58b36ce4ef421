package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the die-service's business metrics.
type metrics struct {
	specsRequested *prometheus.CounterVec
	listRequests   prometheus.Counter
	specsLoaded    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		// identifier is a known die or "unknown": a label fed from user input
		// would let any client create unlimited time series.
		specsRequested: f.NewCounterVec(prometheus.CounterOpts{
			Name: "die_specifications_requested_total",
			Help: "Die specifications requested, by identifier (unknown for dice that do not exist).",
		}, []string{"identifier"}),
		listRequests: f.NewCounter(prometheus.CounterOpts{
			Name: "die_list_requests_total",
			Help: "Requests for the list of known dice.",
		}),
		specsLoaded: f.NewGauge(prometheus.GaugeOpts{
			Name: "die_specifications_loaded",
			Help: "Number of die specifications loaded at startup.",
		}),
	}
}
