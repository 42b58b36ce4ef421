package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the frontend's business metrics.
type metrics struct {
	clicks   *prometheus.CounterVec
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	// exercise 2.4: begin
	f := promauto.With(reg)
	// exercise 2.4: end
	return &metrics{
		// exercise 2.4: begin
		// die_type is one of knownDice, or "unknown".
		clicks: f.NewCounterVec(prometheus.CounterOpts{
			Name: "frontend_button_clicks_total",
			Help: "Roll button clicks (requests to /roll), by die.",
		}, []string{"die_type"}),
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "frontend_requests_total",
			Help: "Roll requests answered, by die and HTTP status code.",
		}, []string{"die_type", "status_code"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "frontend_request_duration_seconds",
			Help:    "Time to answer a roll request, dice-roller included.",
			Buckets: prometheus.DefBuckets,
		}, []string{"die_type"}),
		// exercise 2.4: end
	}
}
