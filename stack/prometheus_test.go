package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/stack/internal/prombuild"
)

// expectKind is what a dashboard expression must show once the stages ran.
type expectKind int

const (
	// nonZero: the traffic of TestPrometheusRunsTheDashboards makes the
	// expression return series with a non-zero value somewhere in the
	// dashboard's time range.
	nonZero expectKind = iota
	// fromTempo: a traces_* series of Tempo's metrics generator (span
	// metrics, service graph). No Tempo runs here (its code is AGPL): the
	// expression is sent to Prometheus, which must accept it; its data was
	// seen only on the live stack (stack/README.md).
	fromTempo
)

// panelWant is the expectation for one PromQL target of a dashboard panel.
type panelWant struct {
	kind expectKind
	// bornAtZero lists label sets each of which must match a non-zero
	// series. The traffic fails only in its first round: these series
	// increase once, and rate() shows it only if the series existed (at 0)
	// before that first failure (SPEC convention: counters born at zero).
	bornAtZero []map[string]string
	// exemplars: the histogram carries trace_id exemplars (telemetry.Observe),
	// which Prometheus must store and return for the expression.
	exemplars bool
}

// panelKey names a target: "stageN/panel title/refId".
func panelKey(stage int, panel, ref string) string {
	return fmt.Sprintf("stage%d/%s/%s", stage, panel, ref)
}

// dashboardWants is the table of every PromQL target of every dashboard and
// what it must show. A target missing here, or a row naming no target, fails
// the test: a new panel comes with its expectation.
var dashboardWants = func() map[string]panelWant {
	w := map[string]panelWant{}
	add := func(stages []int, panel string, refs string, want panelWant) {
		for _, n := range stages {
			for _, ref := range strings.Split(refs, "") {
				w[panelKey(n, panel, ref)] = want
			}
		}
	}
	all, withFrontend, withDieService := []int{1, 2, 3, 4}, []int{2, 3, 4}, []int{3, 4}
	series := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	// Overview.
	add([]int{1}, "Request rate", "A", panelWant{bornAtZero: []map[string]string{series("status", "5xx")}})
	add([]int{2, 3}, "Request rate", "A", panelWant{bornAtZero: []map[string]string{
		series("service", "dice-roller", "status", "5xx"), series("service", "frontend", "status", "5xx"),
		series("service", "frontend", "status", "4xx"),
	}})
	add([]int{4}, "Request rate", "A", panelWant{})
	add(all, "Success rate", "A", panelWant{})
	add(all, "Errors by die", "A", panelWant{bornAtZero: []map[string]string{series("die_type", "risky")}})
	add(all, "Latency percentiles: dice-roller /roll", "ABC", panelWant{exemplars: true})
	add(all, "Roll distribution", "A", panelWant{exemplars: true})
	// Frontend.
	add(withFrontend, "Frontend requests by status", "A", panelWant{})
	add(withFrontend, "Button clicks by die", "A", panelWant{bornAtZero: []map[string]string{series("die_type", "risky")}})
	add(withFrontend, "Frontend latency percentiles", "ABC", panelWant{exemplars: true})
	// Die service.
	add(withDieService, "Die lookups by outcome", "A", panelWant{})
	add(withDieService, "Die lookup latency", "ABC", panelWant{exemplars: true})
	add(withDieService, "Specifications requested", "A", panelWant{})
	add(withDieService, "Dice loaded, list requests", "AB", panelWant{})
	// Async rolling.
	add([]int{4}, "Async vs sync request rate", "ABC", panelWant{})
	add([]int{4}, "Batch size percentiles", "AB", panelWant{}) // observed without a request context: no exemplar
	add([]int{4}, "Rolls in progress", "A", panelWant{})       // steadyTraffic keeps batches running over a scrape
	add([]int{4}, "Improvement factor", "A", panelWant{})
	add([]int{4}, "Sync vs async duration (p95)", "AB", panelWant{exemplars: true})
	add([]int{4}, "Async rolls by result", "A", panelWant{bornAtZero: []map[string]string{series("result", "error")}})
	// Traces: Tempo's span metrics.
	add(all, "Server spans per second (Tempo span metrics)", "A", panelWant{kind: fromTempo})
	return w
}()

// promTarget is one PromQL target of a dashboard, as Grafana sends it.
type promTarget struct {
	stage        int
	panel, ref   string
	expr         string
	instant      bool
	minInterval  string // the panel's "interval" (min step), if any
	dashboardRaw map[string]any
}

func dashboardTargets(t *testing.T) []promTarget {
	t.Helper()
	var out []promTarget
	for _, d := range loadDashboards(t) {
		var walk func(panels []any)
		walk = func(panels []any) {
			for _, p := range panels {
				panel, _ := p.(map[string]any)
				title, _ := panel["title"].(string)
				panelType, _ := dsRef(panel["datasource"])
				interval, _ := panel["interval"].(string)
				targets, _ := panel["targets"].([]any)
				for _, tg := range targets {
					target, _ := tg.(map[string]any)
					typ, _ := dsRef(target["datasource"])
					if typ == "" {
						typ = panelType
					}
					expr, ok := target["expr"].(string)
					if !ok || typ != "prometheus" {
						continue
					}
					ref, _ := target["refId"].(string)
					instant, _ := target["instant"].(bool)
					rng, _ := target["range"].(bool)
					out = append(out, promTarget{stage: d.stage, panel: title, ref: ref, expr: expr,
						instant: instant && !rng, minInterval: interval, dashboardRaw: d.json})
				}
				if sub, ok := panel["panels"].([]any); ok {
					walk(sub)
				}
			}
		}
		panels, _ := d.json["panels"].([]any)
		walk(panels)
	}
	return out
}

// TestDashboardWantsCoverEveryTarget: the expectation table and the
// dashboards name the same targets.
func TestDashboardWantsCoverEveryTarget(t *testing.T) {
	seen := map[string]bool{}
	for _, tg := range dashboardTargets(t) {
		key := panelKey(tg.stage, tg.panel, tg.ref)
		seen[key] = true
		assert.Contains(t, dashboardWants, key, "add the expectation of %s (%s) to dashboardWants", key, tg.expr)
	}
	for key := range dashboardWants {
		assert.True(t, seen[key], "dashboardWants names %s, which no dashboard has", key)
	}
}

// grafanaVars are the values Grafana gives its built-in variables for a
// dashboard's time range: $__interval is the range over the panel's data
// points, never below the datasource's scrape interval (jsonData.timeInterval)
// or the panel's min interval; $__rate_interval is max($__interval + scrape
// interval, 4 × scrape interval).
type grafanaVars struct {
	rng, interval, rateInterval time.Duration
}

func newGrafanaVars(rng, scrape, panelMin time.Duration) grafanaVars {
	const dataPoints = 1000 // a wide panel; any panel over 180 px gets the same 5 s here
	interval := max(rng/dataPoints, scrape, panelMin)
	return grafanaVars{rng: rng, interval: interval, rateInterval: max(interval+scrape, 4*scrape)}
}

var grafanaVarRe = regexp.MustCompile(`\$\{?(__rate_interval|__interval_ms|__interval|__range_s|__range_ms|__range)\}?`)

// expand replaces Grafana's built-in variables and the dashboard's own ones
// (their current value; "All" is the variable's allValue) in expr.
func (g grafanaVars) expand(expr string, dashboard map[string]any) (string, error) {
	expr = grafanaVarRe.ReplaceAllStringFunc(expr, func(m string) string {
		switch grafanaVarRe.FindStringSubmatch(m)[1] {
		case "__rate_interval":
			return promDuration(g.rateInterval)
		case "__interval":
			return promDuration(g.interval)
		case "__interval_ms":
			return strconv.FormatInt(g.interval.Milliseconds(), 10)
		case "__range":
			return promDuration(g.rng)
		case "__range_s":
			return strconv.Itoa(int(g.rng.Seconds()))
		default: // __range_ms
			return strconv.FormatInt(g.rng.Milliseconds(), 10)
		}
	})
	var err error
	expr = userVarRe.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.Trim(m, "${}")
		v, ok := variableValue(dashboard, name)
		if !ok {
			err = fmt.Errorf("%s uses $%s, which the dashboard does not define", expr, name)
		}
		return v
	})
	return expr, err
}

// variableValue is the value Grafana puts for a dashboard variable with
// its current selection.
func variableValue(dashboard map[string]any, name string) (string, bool) {
	templating, _ := dashboard["templating"].(map[string]any)
	vars, _ := templating["list"].([]any)
	for _, v := range vars {
		variable, _ := v.(map[string]any)
		if variable["name"] != name {
			continue
		}
		current, _ := variable["current"].(map[string]any)
		var values []string
		switch cv := current["value"].(type) {
		case string:
			values = []string{cv}
		case []any:
			for _, x := range cv {
				s, _ := x.(string)
				values = append(values, s)
			}
		}
		if slices.Contains(values, "$__all") {
			if all, ok := variable["allValue"].(string); ok && all != "" {
				return all, true
			}
			return ".*", true // Grafana would list every value; any matches them all
		}
		if len(values) == 1 {
			return values[0], true
		}
		return "(" + strings.Join(values, "|") + ")", true
	}
	return "", false
}

func promDuration(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// dashboardRange is the dashboard's default time range ("now-15m" to "now").
func dashboardRange(t *testing.T, d map[string]any) time.Duration {
	t.Helper()
	tr, _ := d["time"].(map[string]any)
	from, _ := tr["from"].(string)
	require.Equal(t, "now", tr["to"], "dashboards end now")
	rng, err := time.ParseDuration(strings.TrimPrefix(from, "now-"))
	require.NoError(t, err, "time.from %q", from)
	return rng
}

func TestGrafanaVariables(t *testing.T) {
	g := newGrafanaVars(15*time.Minute, 5*time.Second, 0)
	dash := map[string]any{"templating": map[string]any{"list": []any{
		map[string]any{"name": "die", "allValue": ".*", "current": map[string]any{"value": []any{"$__all"}}},
		map[string]any{"name": "one", "current": map[string]any{"value": "fair"}},
		map[string]any{"name": "two", "current": map[string]any{"value": []any{"fair", "risky"}}},
	}}}
	for in, want := range map[string]string{
		`rate(x{die_type=~"$die"}[$__rate_interval])`:   `rate(x{die_type=~".*"}[20s])`,
		`rate(x{die_type="${one}"}[${__interval}])`:     `rate(x{die_type="fair"}[5s])`,
		`increase(x{die_type=~"$two"}[$__range])`:       `increase(x{die_type=~"(fair|risky)"}[15m])`,
		`x / $__range_s + $__interval_ms - $__range_ms`: `x / 900 + 5000 - 900000`,
	} {
		got, err := g.expand(in, dash)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := g.expand(`x{a=~"$nope"}`, dash)
	assert.ErrorContains(t, err, "$nope")
	// A slow scrape interval or a coarse panel raise the floor, as in Grafana.
	assert.Equal(t, time.Minute, newGrafanaVars(15*time.Minute, 15*time.Second, 0).rateInterval)
	assert.Equal(t, 30*time.Second, newGrafanaVars(15*time.Minute, 5*time.Second, 30*time.Second).interval)
}

// scrapeInterval is the Prometheus datasource's timeInterval, the floor of $__interval.
func scrapeInterval(t *testing.T) time.Duration {
	t.Helper()
	for _, ds := range loadDatasources(t) {
		if ds.Type == "prometheus" {
			s, _ := ds.JSONData["timeInterval"].(string)
			d, err := time.ParseDuration(s)
			require.NoError(t, err, "the Prometheus datasource's timeInterval (the scrape interval)")
			return d
		}
	}
	t.Fatal("no Prometheus datasource")
	return 0
}

// TestPromtoolCheckConfig: the real promtool of the pinned Prometheus
// accepts prometheus.yml, and refuses a broken copy (the check can fail).
func TestPromtoolCheckConfig(t *testing.T) {
	t.Parallel()
	bins := prometheusBinaries(t, prombuild.Host())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := run(ctx, ".", nil, bins.Promtool, "check", "config", "prometheus/prometheus.yml")
	require.NoError(t, err)
	assert.Contains(t, out, "SUCCESS")

	good, err := os.ReadFile("prometheus/prometheus.yml")
	require.NoError(t, err)
	for name, mutate := range map[string][2]string{
		"a scrape protocol that does not exist": {"OpenMetricsText1.0.0", "OpenMetricsText9.9.9"},
		"a job twice":                           {"job_name: stage2", "job_name: stage1"},
		"a duration Prometheus cannot read":     {"scrape_interval: 5s", "scrape_interval: 5 seconds"},
	} {
		t.Run(name, func(t *testing.T) {
			require.Contains(t, string(good), mutate[0], "the mutation no longer applies: update it")
			bad := filepath.Join(t.TempDir(), "prometheus.yml")
			require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(string(good), mutate[0], mutate[1], 1)), 0o644))
			_, err := run(ctx, ".", nil, bins.Promtool, "check", "config", bad)
			assert.Error(t, err, "promtool accepted %s", name)
		})
	}
}

// prometheusBinaries waits for (or makes) the cached build of Prometheus
// 3.5.0 for p, within the test's deadline.
func prometheusBinaries(t *testing.T, p prombuild.Platform) prombuild.Binaries {
	t.Helper()
	if b, ok := prombuild.Cached(p); ok {
		return b
	}
	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-90*time.Second))
		defer cancel()
	}
	b, err := prombuild.Ensure(ctx, p, testWriter{t})
	if err != nil {
		t.Fatalf("the real Prometheus %s for %s is not built: %v\n"+
			"The first build takes minutes: run `make stack-prom` once (or go test -timeout 30m).", prombuild.Release, p, err)
	}
	return b
}

// testWriter sends prombuild's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestPrometheusRunsTheDashboards is the stack's Prometheus at work. The
// real Prometheus 3.5.0 (built from its Go module, packed FROM scratch into
// an image of this test's own) runs as the prometheus service of
// stack/compose.yaml (its command, flags and mounted prometheus.yml,
// unchanged: only the image name is overridden), beside the four stages as
// `make stageN-docker` runs them, on a network of their own. It scrapes them
// by their aliases; after two rounds of traffic every PromQL expression of
// every dashboard, with Grafana's variables substituted, must return what
// dashboardWants says, and the exemplars must be stored with their trace_id.
// The stage containers' own log lines then go through the log correlation
// checks. Everything is removed afterwards, on failure too.
func TestPrometheusRunsTheDashboards(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs containers")
	}
	t.Parallel()
	compose := requireCompose(t)
	requireEngine(t)
	root := repoRoot(t)
	// The stages packed as `make stageN-docker` packs them, for the
	// engine's architecture, which Prometheus's image must have too.
	var arch string
	for n := range stagePorts {
		_, arch = packStage(t, n)
	}
	bins := prometheusBinaries(t, prombuild.Platform{GOOS: "linux", GOARCH: arch})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	id := randomID(t)
	network := "o11y-test-" + id
	_, err := run(ctx, root, nil, "docker", "network", "create", "--label", "org.o11y-workshop.test="+id, network)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := run(ctx, root, nil, "docker", "network", "rm", network); err != nil {
			t.Errorf("removing the test network: %v", err)
		}
	})
	image := prometheusImage(ctx, t, bins, id)

	// The four stages side by side, as make stageN-docker runs them.
	began := time.Now()
	stages := map[int]*composedStage{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for n := range stagePorts {
		wg.Go(func() {
			s, err := composeStage(ctx, t, compose, root, n, network, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("stage %d: %w", n, err))
				return
			}
			stages[n] = s
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	t.Logf("four stages built and healthy: %s", time.Since(began).Round(time.Millisecond))

	prom := composePrometheus(ctx, t, compose, root, network, image, id)
	started := time.Now()
	t.Logf("Prometheus ready: %s", time.Since(began).Round(time.Millisecond))
	checkPrometheusIsTheRelease(ctx, t, prom)

	jobs := make([]string, 0, len(stages))
	for n := range stages {
		jobs = append(jobs, "stage"+strconv.Itoa(n))
	}
	eachStage := func(f func(n int, urls map[string]string) error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, 5)
		for n, s := range stages {
			wg.Go(func() { errs[n] = f(n, s.urls) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
	}
	// First scrape before any traffic, then two rounds, each scraped.
	require.NoError(t, prom.waitScraped(ctx, jobs, started))
	// The dice-roller of stages 3–4 learns a die at its first lookup and
	// creates the die's series at 0 then (dieKnown); a scrape between that
	// lookup and the first failure, as on any real day, is what lets rate()
	// see the failure. Without it the test fails whenever the very first
	// risky roll is the failure (1 run in 10).
	eachStage(func(n int, urls map[string]string) error { return untilSucceeds(entry(urls)+"/roll?die=risky", 300) })
	require.NoError(t, prom.waitScraped(ctx, jobs, time.Now()))
	eachStage(func(n int, urls map[string]string) error { return firstContact(urls, n) })
	require.NoError(t, prom.waitScraped(ctx, jobs, time.Now()))
	eachStage(func(n int, urls map[string]string) error { return steadyTraffic(urls, n, 7*time.Second) })
	require.NoError(t, prom.waitScraped(ctx, jobs, time.Now()))
	t.Logf("traffic sent and scraped: %s", time.Since(began).Round(time.Millisecond))

	end := time.Now()
	scrape := scrapeInterval(t)
	for _, tg := range dashboardTargets(t) {
		key := panelKey(tg.stage, tg.panel, tg.ref)
		want, ok := dashboardWants[key]
		if !ok {
			continue // TestDashboardWantsCoverEveryTarget says so
		}
		t.Run(key, func(t *testing.T) {
			var panelMin time.Duration
			if tg.minInterval != "" {
				d, err := time.ParseDuration(tg.minInterval)
				require.NoError(t, err, "panel interval")
				panelMin = d
			}
			vars := newGrafanaVars(dashboardRange(t, tg.dashboardRaw), scrape, panelMin)
			expr, err := vars.expand(tg.expr, tg.dashboardRaw)
			require.NoError(t, err)
			result, err := prom.evaluate(ctx, expr, tg.instant, end.Add(-vars.rng), end, vars.interval)
			require.NoError(t, err, expr)
			switch want.kind {
			case fromTempo:
				t.Logf("%s: Tempo's metrics generator writes it; accepted by Prometheus, %d series here", expr, len(result))
				return
			case nonZero:
			}
			require.NotEmpty(t, result, "%s: no series after the traffic", expr)
			assert.True(t, slices.ContainsFunc(result, promSeries.nonZero), "%s: every value is 0 after the traffic:\n%s", expr, describeSeries(result))
			for _, labels := range want.bornAtZero {
				assert.True(t, slices.ContainsFunc(result, func(s promSeries) bool { return s.matches(labels) && s.nonZero() }),
					"%s: no non-zero series with %v: after one failure in the first round of traffic, rate() sees it only if the series was created at 0 before (counters born at zero)\n%s",
					expr, labels, describeSeries(result))
			}
			if want.exemplars {
				ids, err := prom.exemplarTraceIDs(ctx, expr, end.Add(-vars.rng), end)
				require.NoError(t, err)
				assert.NotEmpty(t, ids, "%s: Prometheus stored no exemplar with a trace_id label", expr)
			}
		})
	}
	for _, d := range loadDashboards(t) {
		for _, q := range promQueries(d.json) {
			if !strings.HasPrefix(q.where, "variable") {
				continue
			}
			selector, label := unwrap(q.expr)
			require.NotEmpty(t, label, "%s: %s", d.file, q.where)
			values, err := prom.labelValues(ctx, label, selector, end.Add(-time.Hour), end)
			require.NoError(t, err)
			assert.Subset(t, values, []string{"fair", "risky"}, "%s: %s lists %v", d.file, q.where, values)
		}
	}

	// What Alloy would ship to Loki: the containers' own output.
	for n, s := range stages {
		lines := map[string][]string{}
		for svc, container := range s.containers {
			out, err := run(ctx, root, nil, "docker", "logs", container)
			require.NoError(t, err)
			lines[svc] = strings.Split(strings.TrimSpace(out), "\n")
		}
		checkLogLines(t, n, lines, nil)
	}
}

// composedStage is a stage running from its compose file.
type composedStage struct {
	urls       map[string]string // service → published base URL
	containers map[string]string // service → container id
}

// composeStage runs stage n's compose file the way `make stageN-docker`
// does, from what `workshop pack N` wrote (binaries and probe built on the
// host, FROM scratch, nothing pulled), on network with every published port
// moved to a free one, and waits until the probe says every service is
// healthy.
func composeStage(ctx context.Context, t *testing.T, compose []string, root string, n int, network, id string) (*composedStage, error) {
	buildCtx, _ := packStage(t, n)

	s := &composedStage{urls: map[string]string{}, containers: map[string]string{}}
	project := fmt.Sprintf("o11ytest%ss%d", id, n)
	env := []string{"O11Y_NETWORK=" + network, fmt.Sprintf("STAGE%d_BUILD_CONTEXT=%s", n, buildCtx)}
	for name := range stagePorts[n] {
		port, err := freeTCPPort()
		if err != nil {
			return nil, err
		}
		env = append(env, fmt.Sprintf("STAGE%d_%s_PORT=%d", n, strings.ToUpper(strings.ReplaceAll(name, "-", "_")), port))
		s.urls[name] = fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	composeArgs := func(args ...string) []string {
		return append(append(append([]string{}, compose...), "-p", project, "-f", stageCompose(root, n)), args...)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if t.Failed() {
			out, _ := run(ctx, root, env, composeArgs("logs", "--no-color", "--tail=30")...)
			t.Logf("stage %d compose logs:\n%s", n, out)
		}
		if out, err := run(ctx, root, env, composeArgs("down", "-v", "--rmi", "local", "--remove-orphans")...); err != nil {
			t.Errorf("stage %d compose down: %v\n%s", n, err, out)
		}
	})
	if _, err := run(ctx, root, env, composeArgs("up", "-d", "--build")...); err != nil {
		return nil, err
	}
	for name := range stagePorts[n] {
		out, err := run(ctx, root, env, composeArgs("ps", "-q", name)...)
		if err != nil {
			return nil, err
		}
		s.containers[name] = strings.TrimSpace(out)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		args := append([]string{"docker", "inspect", "--format", "{{.Name}} {{.State.Health.Status}}"}, sortedValues(s.containers)...)
		out, err := run(ctx, root, nil, args...)
		if err != nil {
			return nil, err
		}
		if strings.Count(out, " healthy") == len(s.containers) {
			return s, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("not healthy within 90 s:\n%s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func sortedValues(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

// prometheusImage packs the Prometheus binary FROM scratch like the
// upstream image (binary in /bin, /prometheus owned by nobody, who runs it),
// under a tag of this test's own: an upstream prom/prometheus:v3.5.0 that a
// machine pulled is never replaced or removed.
func prometheusImage(ctx context.Context, t *testing.T, bins prombuild.Binaries, id string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "prometheus")
	if err := os.Link(bins.Prometheus, bin); err != nil { // another file system: copy
		require.NoError(t, copyExecutable(bins.Prometheus, bin))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data", ".keep"), nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(`FROM scratch
COPY --chown=65534:65534 data /prometheus
COPY prometheus /bin/prometheus
USER 65534:65534
WORKDIR /prometheus
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
`), 0o644))
	tag := "workshop.local/prometheus:v" + prombuild.Release + "-test-" + id
	_, err := run(ctx, dir, nil, "docker", "build", "-q", "--label", "org.o11y-workshop.test="+id, "-t", tag, dir)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := run(ctx, dir, nil, "docker", "image", "rm", tag); err != nil {
			t.Errorf("removing the Prometheus image: %v", err)
		}
	})
	return tag
}

func copyExecutable(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// composePrometheus starts the prometheus service of stack/compose.yaml
// with image instead of the upstream one, on a free port, and waits until
// it is ready.
func composePrometheus(ctx context.Context, t *testing.T, compose []string, root, network, image, id string) promAPI {
	t.Helper()
	override := filepath.Join(t.TempDir(), "compose.override.yaml")
	require.NoError(t, os.WriteFile(override, []byte("services:\n  prometheus:\n    image: "+image+"\n"), 0o644))
	port := freePort(t)
	env := []string{"O11Y_NETWORK=" + network, fmt.Sprintf("PROMETHEUS_PORT=%d", port)}
	args := func(more ...string) []string {
		return append(append(append([]string{}, compose...),
			"-p", "o11ytest"+id+"stack", "-f", filepath.Join(root, "stack", "compose.yaml"), "-f", override), more...)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if t.Failed() {
			out, _ := run(ctx, root, env, args("logs", "--no-color", "--tail=50", "prometheus")...)
			t.Logf("prometheus logs:\n%s", out)
		}
		if out, err := run(ctx, root, env, args("down", "-v", "--remove-orphans")...); err != nil {
			t.Errorf("stack compose down: %v\n%s", err, out)
		}
	})
	_, err := run(ctx, root, env, args("up", "-d", "prometheus")...)
	require.NoError(t, err)
	api := promAPI{base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, err := call(api.base + "/-/ready")
		if err == nil && code == http.StatusOK {
			return api
		}
		require.True(t, time.Now().Before(deadline), "Prometheus not ready within 60 s: %d %v", code, err)
		time.Sleep(250 * time.Millisecond)
	}
}

// checkPrometheusIsTheRelease: the pinned version runs, with the flags of
// compose.yaml and every job of prometheus.yml loaded.
func checkPrometheusIsTheRelease(ctx context.Context, t *testing.T, prom promAPI) {
	t.Helper()
	var build struct{ Version string }
	require.NoError(t, prom.get(ctx, "/api/v1/status/buildinfo", nil, &build))
	assert.Equal(t, prombuild.Release, build.Version)
	var flags map[string]string
	require.NoError(t, prom.get(ctx, "/api/v1/status/flags", nil, &flags))
	assert.Contains(t, flags["enable-feature"], "exemplar-storage")
	assert.Equal(t, "true", flags["web.enable-remote-write-receiver"])
	var loaded struct{ YAML string }
	require.NoError(t, prom.get(ctx, "/api/v1/status/config", nil, &loaded))
	var file struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &file)
	for _, sc := range file.ScrapeConfigs {
		assert.Contains(t, loaded.YAML, "job_name: "+sc.JobName, "Prometheus did not load prometheus.yml")
	}
}

// promAPI is Prometheus's HTTP API, as Grafana calls it.
type promAPI struct{ base string }

func (p promAPI) get(ctx context.Context, path string, params url.Values, out any) error {
	u := p.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := trafficClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	var envelope struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return fmt.Errorf("GET %s: %s: %w", path, resp.Status, err)
	}
	if envelope.Status != "success" {
		return fmt.Errorf("GET %s?%s: %s: %s", path, params.Encode(), resp.Status, envelope.Error)
	}
	return json.Unmarshal(envelope.Data, out)
}

// waitScraped waits until every target of jobs is up and was scraped after since.
func (p promAPI) waitScraped(ctx context.Context, jobs []string, since time.Time) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var targets struct {
			ActiveTargets []struct {
				Labels     map[string]string `json:"labels"`
				Health     string            `json:"health"`
				LastScrape time.Time         `json:"lastScrape"`
				LastError  string            `json:"lastError"`
			} `json:"activeTargets"`
		}
		if err := p.get(ctx, "/api/v1/targets", url.Values{"state": {"active"}}, &targets); err != nil {
			return err
		}
		var waiting []string
		found := 0
		for _, tg := range targets.ActiveTargets {
			if !slices.Contains(jobs, tg.Labels["job"]) {
				continue
			}
			found++
			if tg.Health != "up" || !tg.LastScrape.After(since) {
				waiting = append(waiting, fmt.Sprintf("%s %s (%s, last scrape %s, %s)", tg.Labels["job"], tg.Labels["instance"],
					tg.Health, tg.LastScrape.Format(time.RFC3339), tg.LastError))
			}
		}
		if found > 0 && len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("targets not scraped since %s within 60 s (%d found): %s", since.Format(time.RFC3339), found, strings.Join(waiting, "; "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// promSeries is one series of a query result.
type promSeries struct {
	labels map[string]string
	values []float64
}

func (s promSeries) nonZero() bool {
	return slices.ContainsFunc(s.values, func(v float64) bool { return v != 0 && !math.IsNaN(v) })
}

func (s promSeries) matches(labels map[string]string) bool {
	for k, v := range labels {
		if s.labels[k] != v {
			return false
		}
	}
	return true
}

func describeSeries(result []promSeries) string {
	var b strings.Builder
	for _, s := range result {
		fmt.Fprintf(&b, "  %v: %v\n", s.labels, s.values)
	}
	return b.String()
}

// evaluate runs expr as Grafana does: a range query over the dashboard's
// range with $__interval as the step, or an instant query at end.
func (p promAPI) evaluate(ctx context.Context, expr string, instant bool, start, end time.Time, step time.Duration) ([]promSeries, error) {
	type sample [2]any // [unix seconds, "value"]
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  sample            `json:"value"`
			Values []sample          `json:"values"`
		} `json:"result"`
	}
	var err error
	if instant {
		err = p.get(ctx, "/api/v1/query", url.Values{"query": {expr}, "time": {unix(end)}}, &data)
	} else {
		err = p.get(ctx, "/api/v1/query_range", url.Values{"query": {expr}, "start": {unix(start)}, "end": {unix(end)},
			"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}, &data)
	}
	if err != nil {
		return nil, err
	}
	var out []promSeries
	for _, r := range data.Result {
		s := promSeries{labels: r.Metric}
		samples := r.Values
		if r.Value[1] != nil {
			samples = append(samples, r.Value)
		}
		for _, v := range samples {
			str, _ := v[1].(string)
			f, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %v: %w", expr, v[1], err)
			}
			s.values = append(s.values, f)
		}
		out = append(out, s)
	}
	return out, nil
}

var traceIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

// exemplarTraceIDs are the trace_id labels of the exemplars Prometheus
// returns for expr (Grafana asks with the panel's expression).
func (p promAPI) exemplarTraceIDs(ctx context.Context, expr string, start, end time.Time) ([]string, error) {
	var data []struct {
		Exemplars []struct {
			Labels map[string]string `json:"labels"`
		} `json:"exemplars"`
	}
	if err := p.get(ctx, "/api/v1/query_exemplars", url.Values{"query": {expr}, "start": {unix(start)}, "end": {unix(end)}}, &data); err != nil {
		return nil, err
	}
	var ids []string
	for _, series := range data {
		for _, e := range series.Exemplars {
			if id := e.Labels["trace_id"]; traceIDRe.MatchString(id) {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// labelValues is Grafana's label_values(selector, label).
func (p promAPI) labelValues(ctx context.Context, label, selector string, start, end time.Time) ([]string, error) {
	var values []string
	err := p.get(ctx, "/api/v1/label/"+url.PathEscape(label)+"/values",
		url.Values{"match[]": {selector}, "start": {unix(start)}, "end": {unix(end)}}, &values)
	return values, err
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }
