package viewer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// maxMetricsBody bounds one scrape; a service's /metrics is a few KB.
const maxMetricsBody = 8 << 20

// runtimePrefixes are the client library's own families: useful, but they
// bury the lesson's metrics, so they are hidden unless asked for.
var runtimePrefixes = []string{"go_", "process_", "promhttp_"}

type metricsData struct {
	Services []serviceMetrics
	All      bool // runtime families shown
}

// serviceMetrics is one service's scrape: its families, or why it failed.
type serviceMetrics struct {
	serviceTag
	URL      string
	Err      string // "" when the scrape worked
	Families []family
	Hidden   int // runtime families not shown
}

type family struct {
	Name, Help, Type string
	Samples          []sample
}

// sample is one series. Histograms and summaries are summarised: count,
// sum, and their buckets or quantiles.
type sample struct {
	Labels string // `die_type="fair", result="success"`; "" for none
	Value  string // counters, gauges, untyped
	Count  string
	Sum    string
	Bounds []bound // histogram buckets (cumulative) or summary quantiles
}

// bound is a histogram bucket ("≤0.5", count) or a summary quantile
// ("p99", value).
type bound struct{ Label, Value string }

func (v *viewer) metricsPage(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("all") != ""
	names := slices.Sorted(maps.Keys(v.opts.Metrics))
	data := metricsData{All: all, Services: make([]serviceMetrics, len(names))}

	// Scrape in parallel: a down service costs the page one timeout, not one each.
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sm := serviceMetrics{serviceTag: serviceTag{name, v.colors.of(name)}, URL: v.opts.Metrics[name]}
			families, err := v.scrape(r.Context(), sm.URL)
			if err != nil {
				sm.Err = err.Error()
			} else {
				sm.Families, sm.Hidden = summarise(families, all)
			}
			data.Services[i] = sm
		})
	}
	wg.Wait()
	v.render(w, http.StatusOK, "metrics", page{Heading: "Metrics", Nav: "metrics", Refresh: refreshSeconds, Data: data})
}

// scrape fetches and parses a Prometheus text exposition.
func (v *viewer) scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, v.opts.ScrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	// Ask for the text format: client_golang would otherwise be free to
	// negotiate protobuf or OpenMetrics.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := v.opts.Client.Do(req)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("no answer from %s within %s", url, v.opts.ScrapeTimeout)
	}
	if uerr, ok := errors.AsType[*neturl.Error](err); ok {
		err = uerr.Err // the URL is in our message already
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, maxMetricsBody))
	if err != nil {
		return nil, fmt.Errorf("%s is not Prometheus text format: %w", url, err)
	}
	return families, nil
}

// summarise turns parsed families into rows, sorted by name and labels.
func summarise(families map[string]*dto.MetricFamily, all bool) (out []family, hidden int) {
	for _, name := range slices.Sorted(maps.Keys(families)) {
		if !all && slices.ContainsFunc(runtimePrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			hidden++
			continue
		}
		mf := families[name]
		f := family{Name: name, Help: mf.GetHelp(), Type: strings.ToLower(mf.GetType().String())}
		for _, m := range mf.GetMetric() {
			f.Samples = append(f.Samples, sampleOf(mf.GetType(), m))
		}
		slices.SortFunc(f.Samples, func(a, b sample) int { return cmp.Compare(a.Labels, b.Labels) })
		out = append(out, f)
	}
	return out, hidden
}

func sampleOf(typ dto.MetricType, m *dto.Metric) sample {
	s := sample{Labels: labelString(m.GetLabel())}
	switch typ {
	case dto.MetricType_COUNTER:
		s.Value = number(m.GetCounter().GetValue())
	case dto.MetricType_GAUGE:
		s.Value = number(m.GetGauge().GetValue())
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		h := m.GetHistogram()
		s.Count, s.Sum = strconv.FormatUint(h.GetSampleCount(), 10), number(h.GetSampleSum())
		for _, b := range h.GetBucket() {
			s.Bounds = append(s.Bounds, bound{"≤" + number(b.GetUpperBound()), strconv.FormatUint(b.GetCumulativeCount(), 10)})
		}
	case dto.MetricType_SUMMARY:
		sm := m.GetSummary()
		s.Count, s.Sum = strconv.FormatUint(sm.GetSampleCount(), 10), number(sm.GetSampleSum())
		for _, q := range sm.GetQuantile() {
			s.Bounds = append(s.Bounds, bound{"p" + number(100*q.GetQuantile()), number(q.GetValue())})
		}
	default:
		s.Value = number(m.GetUntyped().GetValue())
	}
	return s
}

func labelString(labels []*dto.LabelPair) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = l.GetName() + "=" + strconv.Quote(l.GetValue())
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// number prints a sample value for reading: whole numbers in full (a
// counter at 1234567), others to six significant digits, so a histogram's
// sum shows 0.726017 rather than 0.7260172739999999.
func number(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}
