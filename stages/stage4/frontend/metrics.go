package main

import (
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/go-o11y-workshop/kit/stages/stage4/internal/service"
)

// unknownDie is the die_type label of every die the frontend does not know:
// what a user typed never becomes a label value.
const unknownDie = "unknown"

// rollStatuses are the status codes a roll through the frontend ends with:
// the dice-roller's answers (200, 400, 500, 503) and the frontend's own 502.
var rollStatuses = []string{"200", "400", "500", "502", "503"}

// metrics are the frontend's business metrics.
type metrics struct {
	clicks        *prometheus.CounterVec
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	asyncRequests *prometheus.CounterVec
}

// newMetrics registers the frontend's business metrics on reg, with the
// series known in advance already there, at 0.
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
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
	m.diceListed(nil) // unknown's series
	// Every valid batch size is known: 1 to 20.
	for n := service.MinTimes; n <= service.MaxTimes; n++ {
		m.asyncRequests.WithLabelValues(strconv.Itoa(n))
	}
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
