package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the frontend's business metrics.
type metrics struct {
	clicks        *prometheus.CounterVec
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	asyncRequests *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		// die_type is a die the die-service listed, or "unknown".
		clicks: f.NewCounterVec(prometheus.CounterOpts{
			Name: "frontend_button_clicks_total",
			Help: "Roll button clicks (requests to /roll and /roll-async), by die.",
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
		// batch_size is "1".."20": invalid sizes are refused before counting.
		asyncRequests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "async_roll_requests_total",
			Help: "Async roll requests, by batch size.",
		}, []string{"batch_size"}),
	}
}
