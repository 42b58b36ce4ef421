package main

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// unknownDie is the die_type label of every die the frontend does not know:
// what a user typed never becomes a label value.
const unknownDie = "unknown"

// rollStatuses are the status codes a roll through the frontend ends with:
// the dice-roller's answers (200, 400, 500, 503) and the frontend's own 502.
var rollStatuses = []string{"200", "400", "500", "502", "503"}

// metrics are the frontend's business metrics.
type metrics struct {
	clicks   *prometheus.CounterVec
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newMetrics registers the frontend's business metrics on reg, with the
// series known in advance already there, at 0.
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		// die_type is a die the die-service listed, or "unknown".
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
	m.diceListed(nil) // unknown's series
	return m
}

// diceListed creates at 0 the series of the dice the die-service listed, and
// of unknown. A series is otherwise born at its first Inc, and rate() needs a
// sample before it: the first failed roll of a die would not show on an
// error panel.
func (m *metrics) diceListed(dice []string) {
	for _, die := range append(slices.Clone(dice), unknownDie) {
		m.clicks.WithLabelValues(die)
		for _, code := range rollStatuses {
			m.requests.WithLabelValues(die, code)
		}
	}
}
