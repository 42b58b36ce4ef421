package check

import (
	"fmt"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
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
			return fl
		}
		route := "/roll"
		if service == "die-service" {
			route = "/dice"
		}
		for _, v := range labelValues(f, "handler") {
			if strings.ContainsAny(v, "?=") {
				return fail("the handler label to be the route pattern (\""+route+"\")",
					fmt.Sprintf("handler=%q on %s: the raw URL makes one series per query string", v, service))
			}
		}
		if series(f, map[string]string{"handler": route, "method": "GET", "status": "2xx"}) == nil {
			return fail(fmt.Sprintf(`http_requests_total{handler=%q,method="GET",status="2xx"} on %s`, route, service), listSeries(f))
		}
		if fl := closedSet(f, "status", "1xx", "2xx", "3xx", "4xx", "5xx"); fl != nil {
			return fl
		}
		if _, fl := o.wantFamily(service, "http_request_duration_seconds", dto.MetricType_HISTOGRAM, "handler", "method"); fl != nil {
			return fl
		}
	}
	return nil
}

func checkDiceMetrics(o *Observation) error {
	f, fl := o.wantFamily("dice-roller", "dice_rolls_total", dto.MetricType_COUNTER, "die_type", "result")
	if fl != nil {
		return fl
	}
	if series(f, map[string]string{"die_type": "fair", "result": "success"}) == nil {
		return fail(`dice_rolls_total{die_type="fair",result="success"} after rolling fair`, listSeries(f))
	}
	if fl := closedSet(f, "die_type", dice...); fl != nil {
		return fl
	}
	if fl := closedSet(f, "result", "success", "error"); fl != nil {
		return fl
	}
	h, fl := o.wantFamily("dice-roller", "dice_roll_value", dto.MetricType_HISTOGRAM, "die_type")
	if fl != nil {
		return fl
	}
	m := series(h, map[string]string{"die_type": "fair"})
	if m == nil {
		return fail(`dice_roll_value{die_type="fair"} after rolling fair`, listSeries(h))
	}
	if b := buckets(m); !slices.Equal(b, []float64{1, 2, 3, 4, 5, 6, 7, 8}) {
		return fail("dice_roll_value buckets 1, 2, …, 8 (one per face value)", fmt.Sprintf("buckets %v", b))
	}
	return nilIfNoFailure(closedSet(h, "die_type", dice...))
}

func checkFrontendMetrics(o *Observation) error {
	clicks, fl := o.wantFamily("frontend", "frontend_button_clicks_total", dto.MetricType_COUNTER, "die_type")
	if fl != nil {
		return fl
	}
	if series(clicks, map[string]string{"die_type": "fair"}) == nil {
		return fail(`frontend_button_clicks_total{die_type="fair"} after a fair roll through the frontend`, listSeries(clicks))
	}
	if fl := closedSet(clicks, "die_type", dice...); fl != nil {
		return fl
	}
	reqs, fl := o.wantFamily("frontend", "frontend_requests_total", dto.MetricType_COUNTER, "die_type", "status_code")
	if fl != nil {
		return fl
	}
	if series(reqs, map[string]string{"die_type": "fair", "status_code": "200"}) == nil {
		return fail(`frontend_requests_total{die_type="fair",status_code="200"} (the numeric code as a string)`, listSeries(reqs))
	}
	if fl := closedSet(reqs, "die_type", dice...); fl != nil {
		return fl
	}
	_, fl = o.wantFamily("frontend", "frontend_request_duration_seconds", dto.MetricType_HISTOGRAM, "die_type")
	return nilIfNoFailure(fl)
}

func checkDieServiceMetrics(o *Observation) error {
	f, fl := o.wantFamily("die-service", "die_specifications_requested_total", dto.MetricType_COUNTER, "identifier")
	if fl != nil {
		return fl
	}
	for _, id := range []string{"fair", "unknown"} {
		if series(f, map[string]string{"identifier": id}) == nil {
			return fail(fmt.Sprintf(`die_specifications_requested_total{identifier=%q}`, id), listSeries(f))
		}
	}
	if fl := closedSet(f, "identifier", dice...); fl != nil {
		return fl
	}
	if _, fl := o.wantFamily("die-service", "die_list_requests_total", dto.MetricType_COUNTER); fl != nil {
		return fl
	}
	g, fl := o.wantFamily("die-service", "die_specifications_loaded", dto.MetricType_GAUGE)
	if fl != nil {
		return fl
	}
	if v := g.GetMetric()[0].GetGauge().GetValue(); v != 2 {
		return fail("die_specifications_loaded 2 (fair and risky)", fmt.Sprint(v))
	}
	return nil
}

func checkLookupMetrics(o *Observation) error {
	f, fl := o.wantFamily("dice-roller", "die_service_requests_total", dto.MetricType_COUNTER, "identifier", "status")
	if fl != nil {
		return fl
	}
	if series(f, map[string]string{"identifier": "fair", "status": "success"}) == nil {
		return fail(`die_service_requests_total{identifier="fair",status="success"}`, listSeries(f))
	}
	if series(f, map[string]string{"identifier": "unknown", "status": "not_found"}) == nil {
		return fail(`die_service_requests_total{identifier="unknown",status="not_found"} after asking for an unknown die`, listSeries(f))
	}
	if fl := closedSet(f, "identifier", dice...); fl != nil {
		return fl
	}
	if fl := closedSet(f, "status", "success", "not_found", "error", "timeout", "unavailable"); fl != nil {
		return fl
	}
	_, fl = o.wantFamily("dice-roller", "die_service_request_duration_seconds", dto.MetricType_HISTOGRAM)
	return nilIfNoFailure(fl)
}

func checkAsyncMetrics(o *Observation) error {
	f, fl := o.wantFamily("dice-roller", "async_rolls_total", dto.MetricType_COUNTER, "die_type", "result")
	if fl != nil {
		return fl
	}
	if m := series(f, map[string]string{"die_type": "fair", "result": "success"}); m == nil || m.GetCounter().GetValue() < asyncTimes {
		return fail(fmt.Sprintf(`async_rolls_total{die_type="fair",result="success"} ≥ %d after a batch of %d`, asyncTimes, asyncTimes), listSeries(f))
	}
	h, fl := o.wantFamily("dice-roller", "async_roll_batch_size", dto.MetricType_HISTOGRAM)
	if fl != nil {
		return fl
	}
	if b := buckets(h.GetMetric()[0]); !slices.Equal(b, []float64{1, 2, 3, 5, 10, 15, 20}) {
		return fail("async_roll_batch_size buckets 1, 2, 3, 5, 10, 15, 20", fmt.Sprintf("buckets %v", b))
	}
	if _, fl := o.wantFamily("dice-roller", "async_roll_duration_seconds", dto.MetricType_HISTOGRAM); fl != nil {
		return fl
	}
	g, fl := o.wantFamily("dice-roller", "async_rolls_in_progress", dto.MetricType_GAUGE)
	if fl != nil {
		return fl
	}
	if v := g.GetMetric()[0].GetGauge().GetValue(); v != 0 {
		return fail("async_rolls_in_progress back to 0 once every batch has answered", fmt.Sprint(v))
	}
	return nil
}
