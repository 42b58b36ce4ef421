package check

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// closedSet fails when a label takes a value outside the allowed ones:
// unknown input must never become a label value.
func closedSet(f *dto.MetricFamily, label string, allowed ...string) *Failure {
	for _, v := range labelValues(f, label) {
		if !slices.Contains(allowed, v) {
			return fail(fmt.Sprintf("%s's %s label to stay in {%s}", f.GetName(), label, strings.Join(allowed, ", ")),
				fmt.Sprintf("the value %q: a value taken from the request makes a new series per input", v))
		}
	}
	return nil
}

var dice = []string{"fair", "risky", "unknown"}

func checkHTTPMetrics(o *Observation) error {
	for _, service := range o.Services {
		f, fl := o.wantFamily(service, "http_requests_total", dto.MetricType_COUNTER, "handler", "method", "status")
		if fl != nil {
			return fl.at(pHTTPMetrics)
		}
		route := "/roll"
		if service == "die-service" {
			route = "/dice"
		}
		for _, v := range labelValues(f, "handler") {
			if strings.ContainsAny(v, "?=") {
				return fail("the handler label to be the route pattern (\""+route+"\")",
					fmt.Sprintf("handler=%q on the %s: the raw URL makes one series per query string", v, service)).at(pHTTPMetrics)
			}
		}
		if !counted(f, map[string]string{"handler": route, "method": "GET", "status": "2xx"}) {
			return fail(fmt.Sprintf(`http_requests_total{handler=%q,method="GET",status="2xx"} on the %s to count the probe's requests`, route, service), listSeries(f)).at(pHTTPMetrics)
		}
		if fl := closedSet(f, "status", "1xx", "2xx", "3xx", "4xx", "5xx"); fl != nil {
			return fl.at(pHTTPMetrics)
		}
		if _, fl := o.wantFamily(service, "http_request_duration_seconds", dto.MetricType_HISTOGRAM, "handler", "method"); fl != nil {
			return fl.at(pHTTPMetrics)
		}
	}
	return nil
}

func checkDiceMetrics(o *Observation) error {
	f, fl := o.wantFamily("dice-roller", "dice_rolls_total", dto.MetricType_COUNTER, "die_type", "result")
	if fl != nil {
		return fl.at(pDiceMetrics, pRollMetrics)
	}
	if !counted(f, map[string]string{"die_type": "fair", "result": "success"}) {
		return fail(`dice_rolls_total{die_type="fair",result="success"} above 0 after a fair roll`, listSeries(f)).at(pRollMetrics)
	}
	if fl := closedSet(f, "die_type", dice...); fl != nil {
		return fl.at(pRollMetrics)
	}
	if fl := closedSet(f, "result", "success", "error"); fl != nil {
		return fl.at(pRollMetrics)
	}
	h, fl := o.wantFamily("dice-roller", "dice_roll_value", dto.MetricType_HISTOGRAM, "die_type")
	if fl != nil {
		return fl.at(pDiceMetrics, pRollMetrics)
	}
	if !counted(h, map[string]string{"die_type": "fair"}) {
		return fail(`dice_roll_value{die_type="fair"} to observe the fair roll`, listSeries(h)).at(pRollMetrics)
	}
	if b := buckets(series(h, map[string]string{"die_type": "fair"})); !slices.Equal(b, []float64{1, 2, 3, 4, 5, 6, 7, 8}) {
		return fail("dice_roll_value buckets 1, 2, …, 8 (one per face value)", fmt.Sprintf("buckets %v", b)).at(pDiceMetrics)
	}
	if fl := closedSet(h, "die_type", dice...); fl != nil {
		return fl.at(pRollMetrics)
	}
	return nil
}

func checkFrontendMetrics(o *Observation) error {
	clicks, fl := o.wantFamily("frontend", "frontend_button_clicks_total", dto.MetricType_COUNTER, "die_type")
	if fl != nil {
		return fl.at(pFrontendMetrics, pRelay)
	}
	if !counted(clicks, map[string]string{"die_type": "fair"}) {
		return fail(`frontend_button_clicks_total{die_type="fair"} above 0 after a fair roll through the frontend`, listSeries(clicks)).at(pRelay)
	}
	if fl := closedSet(clicks, "die_type", dice...); fl != nil {
		return fl.at(pRelay)
	}
	reqs, fl := o.wantFamily("frontend", "frontend_requests_total", dto.MetricType_COUNTER, "die_type", "status_code")
	if fl != nil {
		return fl.at(pFrontendMetrics, pRelay)
	}
	if !counted(reqs, map[string]string{"die_type": "fair", "status_code": "200"}) {
		return fail(`frontend_requests_total{die_type="fair",status_code="200"} above 0 (the numeric code as a string)`, listSeries(reqs)).at(pRelay)
	}
	if fl := closedSet(reqs, "die_type", dice...); fl != nil {
		return fl.at(pRelay)
	}
	if _, fl = o.wantFamily("frontend", "frontend_request_duration_seconds", dto.MetricType_HISTOGRAM, "die_type"); fl != nil {
		return fl.at(pFrontendMetrics, pRelay)
	}
	return nil
}

func checkDieServiceMetrics(o *Observation) error {
	f, fl := o.wantFamily("die-service", "die_specifications_requested_total", dto.MetricType_COUNTER, "identifier")
	if fl != nil {
		return fl.at(pDieServiceMetrics, pHandleDice)
	}
	for _, id := range []string{"fair", "unknown"} {
		if !counted(f, map[string]string{"identifier": id}) {
			return fail(fmt.Sprintf(`die_specifications_requested_total{identifier=%q} above 0 after asking for a %s die`, id, map[string]string{"fair": "fair", "unknown": "no-such-die"}[id]),
				listSeries(f)).at(pHandleDice)
		}
	}
	if fl := closedSet(f, "identifier", dice...); fl != nil {
		return fl.at(pHandleDice)
	}
	if _, fl := o.wantFamily("die-service", "die_list_requests_total", dto.MetricType_COUNTER); fl != nil {
		return fl.at(pDieServiceMetrics, pHandleDice)
	}
	g, fl := o.wantFamily("die-service", "die_specifications_loaded", dto.MetricType_GAUGE)
	if fl != nil {
		return fl.at(pDieServiceMetrics)
	}
	if v := g.GetMetric()[0].GetGauge().GetValue(); v != 2 {
		return fail("die_specifications_loaded 2 (fair and risky)", fmt.Sprint(v)).at(pDieServiceMetrics)
	}
	return nil
}

func checkLookupMetrics(o *Observation) error {
	f, fl := o.wantFamily("dice-roller", "die_service_requests_total", dto.MetricType_COUNTER, "identifier", "status")
	if fl != nil {
		return fl.at(pDieLookup)
	}
	if !counted(f, map[string]string{"identifier": "fair", "status": "success"}) {
		return fail(`die_service_requests_total{identifier="fair",status="success"} above 0 after a fair roll`, listSeries(f)).at(pDieLookup)
	}
	if !counted(f, map[string]string{"identifier": "unknown", "status": "not_found"}) {
		return fail(`die_service_requests_total{identifier="unknown",status="not_found"} above 0 after asking for an unknown die`, listSeries(f)).at(pDieLookup)
	}
	if fl := closedSet(f, "identifier", dice...); fl != nil {
		return fl.at(pDieLookup)
	}
	if fl := closedSet(f, "status", "success", "not_found", "error", "timeout", "unavailable"); fl != nil {
		return fl.at(pDieLookup)
	}
	if _, fl = o.wantFamily("dice-roller", "die_service_request_duration_seconds", dto.MetricType_HISTOGRAM); fl != nil {
		return fl.at(pDieLookup)
	}
	return nil
}

func checkAsyncMetrics(o *Observation) error {
	where := []*place{pAsyncMetrics, pAsyncBornAtZero, pRollOneMetrics, pRollAsyncMetrics}
	f, fl := o.wantFamily("dice-roller", "async_rolls_total", dto.MetricType_COUNTER, "die_type", "result")
	if fl != nil {
		return fl.at(pAsyncMetrics, pRollOneMetrics)
	}
	if m := series(f, map[string]string{"die_type": "fair", "result": "success"}); m == nil || m.GetCounter().GetValue() < asyncTimes {
		return fail(fmt.Sprintf(`async_rolls_total{die_type="fair",result="success"} ≥ %d after a batch of %d`, asyncTimes, asyncTimes), listSeries(f)).at(pRollOneMetrics)
	}
	h, fl := o.wantFamily("dice-roller", "async_roll_batch_size", dto.MetricType_HISTOGRAM)
	if fl != nil {
		return fl.at(pAsyncMetrics, pRollAsyncMetrics)
	}
	if b := buckets(h.GetMetric()[0]); !slices.Equal(b, []float64{1, 2, 3, 5, 10, 15, 20}) {
		return fail("async_roll_batch_size buckets 1, 2, 3, 5, 10, 15, 20", fmt.Sprintf("buckets %v", b)).at(pAsyncMetrics)
	}
	if h.GetMetric()[0].GetHistogram().GetSampleCount() == 0 {
		return fail("async_roll_batch_size to observe the batch of "+fmt.Sprint(asyncTimes), "no observation").at(pRollAsyncMetrics)
	}
	if _, fl := o.wantFamily("dice-roller", "async_roll_duration_seconds", dto.MetricType_HISTOGRAM); fl != nil {
		return fl.at(pAsyncMetrics, pRollAsyncMetrics)
	}
	g, fl := o.wantFamily("dice-roller", "async_rolls_in_progress", dto.MetricType_GAUGE)
	if fl != nil {
		return fl.at(where...)
	}
	if v := g.GetMetric()[0].GetGauge().GetValue(); v != 0 {
		return fail("async_rolls_in_progress back to 0 once every batch has answered", fmt.Sprint(v)+": a way out of a roll does not lower it").at(pRollOneMetrics)
	}
	return nil
}

func (o *Observation) family(service, name string) (*dto.MetricFamily, *Failure) {
	if err := o.MetricsErr[service]; err != nil {
		return nil, fail(fmt.Sprintf("%s's /metrics", service), err.Error())
	}
	f, ok := o.Metrics[service][name]
	if !ok {
		return nil, fail(fmt.Sprintf("the metric %s on the %s's /metrics", name, service), "no such metric: not one series of it. A metric with labels shows only once a label combination is counted or created at zero, so it may be declared and still missing here; "+o.similarMetrics(service, name))
	}
	return f, nil
}

// similarMetrics names metrics close to a wanted one (a typo, a missing _total).
func (o *Observation) similarMetrics(service, name string) string {
	stem := strings.TrimSuffix(strings.TrimSuffix(name, "_total"), "_seconds")
	var near []string
	for n := range o.Metrics[service] {
		if strings.Contains(n, stem) || strings.Contains(stem, strings.TrimSuffix(n, "_total")) {
			near = append(near, n)
		}
	}
	if len(near) > 0 {
		sort.Strings(near)
		return "similar: " + strings.Join(near, ", ")
	}
	// Name what is there, leaving out the Go runtime's own metrics.
	var own []string
	for n := range o.Metrics[service] {
		if !strings.HasPrefix(n, "go_") && !strings.HasPrefix(n, "process_") && !strings.HasPrefix(n, "promhttp_") {
			own = append(own, n)
		}
	}
	if len(own) == 0 {
		return "nothing similar, and no metric of its own is registered yet"
	}
	sort.Strings(own)
	return "nothing similar; its own metrics are " + strings.Join(own, ", ")
}

// wantFamily checks a metric's type and label names.
func (o *Observation) wantFamily(service, name string, typ dto.MetricType, labels ...string) (*dto.MetricFamily, *Failure) {
	f, fl := o.family(service, name)
	if fl != nil {
		return nil, fl
	}
	if f.GetType() != typ {
		return nil, fail(fmt.Sprintf("%s to be a %s", name, strings.ToLower(typ.String())), "a "+strings.ToLower(f.GetType().String()))
	}
	if len(f.GetMetric()) == 0 {
		return nil, fail(fmt.Sprintf("%s labelled {%s}", name, strings.Join(labels, ",")), "a metric with no series: it is declared but never recorded")
	}
	want := append([]string(nil), labels...)
	sort.Strings(want)
	for _, m := range f.GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName())
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			return nil, fail(fmt.Sprintf("%s labelled {%s}", name, strings.Join(want, ",")), "a series "+labelsString(m))
		}
	}
	return f, nil
}

// counted finds the series with exactly these label values and reports
// whether something was recorded in it: a counter above 0, a histogram with
// observations. A series created at 0 up front does not count.
func counted(f *dto.MetricFamily, labels map[string]string) bool {
	m := series(f, labels)
	return m != nil && (m.GetCounter().GetValue() > 0 || m.GetHistogram().GetSampleCount() > 0)
}

// series finds the series with exactly these label values.
func series(f *dto.MetricFamily, labels map[string]string) *dto.Metric {
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		ok := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	return nil
}

func listSeries(f *dto.MetricFamily) string {
	var s []string
	for _, m := range f.GetMetric() {
		s = append(s, labelsString(m))
	}
	if len(s) == 0 {
		return "no series"
	}
	if len(s) > 8 {
		s = append(s[:8], fmt.Sprintf("… (%d series)", len(f.GetMetric())))
	}
	return "series " + strings.Join(s, " ")
}

func labelValues(f *dto.MetricFamily, label string) []string {
	seen := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				seen[l.GetValue()] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func buckets(m *dto.Metric) []float64 {
	var out []float64
	for _, b := range m.GetHistogram().GetBucket() {
		if math.IsInf(b.GetUpperBound(), 1) {
			continue // the text format lists +Inf; client_golang adds it by itself
		}
		out = append(out, b.GetUpperBound())
	}
	return out
}

// parseMetrics reads a service's answer to GET /metrics in the text format.
func parseMetrics(a *Answer) (map[string]*dto.MetricFamily, error) {
	if a.Err != nil {
		return nil, a.Err
	}
	if a.Status != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics answered %d %s", a.Status, http.StatusText(a.Status))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(a.Body))
	if err != nil {
		return nil, fmt.Errorf("GET /metrics is not in the Prometheus text format: %w", err)
	}
	return families, nil
}

// labelsString formats a series' labels for messages: {a="x",b="y"}.
func labelsString(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	return "{" + strings.Join(parts, ",") + "}"
}
