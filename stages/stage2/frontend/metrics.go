package main

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// unknownDie is the die_type label of every die the frontend does not know:
// what a user typed never becomes a label value.
const unknownDie = "unknown"

// metrics are the frontend's business metrics.
type metrics struct {
	clicks   *prometheus.CounterVec
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newMetrics registers the frontend's business metrics on reg, with the
// series known in advance already there, at 0.
func newMetrics(reg prometheus.Registerer, dice []string) *metrics {
	// exercise 2.4: begin
	// exercise 2.4: stub: return &metrics{}
	f := promauto.With(reg)
	m := &metrics{
		// die_type is one of dice, or unknownDie.
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
	}
	// A series is born at its first WithLabelValues, and rate() needs two
	// samples: create the ones known in advance at 0, so that the first
	// click of a die, or the first 502, shows on a panel. A known die is
	// answered 200 (rolled), 500 (the die failed) or 502 (no dice-roller);
	// an unknown one, 400.
	for _, die := range dice {
		m.clicks.WithLabelValues(die)
		for _, code := range []int{http.StatusOK, http.StatusInternalServerError, http.StatusBadGateway} {
			m.requests.WithLabelValues(die, strconv.Itoa(code))
		}
	}
	m.clicks.WithLabelValues(unknownDie)
	m.requests.WithLabelValues(unknownDie, strconv.Itoa(http.StatusBadRequest))
	return m
	// exercise 2.4: end
}
