package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// promql parses like Prometheus does, with its default options.
var promql = parser.NewParser(parser.Options{})

// tempoMetrics names the series Tempo's metrics generator (processors
// service-graphs and span-metrics, Tempo 2.x) remote-writes to Prometheus:
// the only metrics a dashboard may query that no service exports, with the
// labels they carry (plus the span-metrics dimensions of tempo/tempo.yaml).
var tempoMetrics = func() map[string][]string {
	span := []string{"service", "span_name", "span_kind", "status_code", "status_message", "source", "job"}
	graph := []string{"client", "server", "connection_type", "source", "job"}
	m := map[string][]string{
		"traces_spanmetrics_calls_total":            span,
		"traces_spanmetrics_size_total":             span,
		"traces_service_graph_request_total":        graph,
		"traces_service_graph_request_failed_total": graph,
		"traces_service_graph_unpaired_spans_total": {"client", "server", "source", "job"},
		"traces_service_graph_dropped_spans_total":  {"client", "server", "source", "job"},
	}
	for _, h := range []string{"traces_spanmetrics_latency"} {
		m[h+"_bucket"], m[h+"_sum"], m[h+"_count"] = append(slices.Clone(span), "le"), span, span
	}
	for _, h := range []string{"traces_service_graph_request_server_seconds", "traces_service_graph_request_client_seconds"} {
		m[h+"_bucket"], m[h+"_sum"], m[h+"_count"] = append(slices.Clone(graph), "le"), graph, graph
	}
	return m
}()

// targetLabels are the labels Prometheus adds to every scraped series:
// job and instance, and those of prometheus/prometheus.yml's static_configs.
type targetLabels struct {
	services map[string]bool // the service label values of the stage's job
	extra    map[string]bool // other static_configs label names
}

func scrapeTargets(t *testing.T, stage int) targetLabels {
	t.Helper()
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string          `yaml:"targets"`
				Labels  map[string]string `yaml:"labels"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &cfg)
	tl := targetLabels{services: map[string]bool{}, extra: map[string]bool{}}
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != "stage"+strconv.Itoa(stage) {
			continue
		}
		for _, st := range sc.StaticConfigs {
			for k, v := range st.Labels {
				if k == "service" {
					tl.services[v] = true
				} else {
					tl.extra[k] = true
				}
			}
		}
	}
	require.NotEmpty(t, tl.services, "prometheus.yml has no job stage%d with service labels", stage)
	return tl
}

// tempoDimensions are the span-metrics dimensions of tempo.yaml, as labels.
func tempoDimensions(t *testing.T) []string {
	t.Helper()
	var cfg struct {
		MetricsGenerator struct {
			Processor struct {
				SpanMetrics struct {
					Dimensions []string `yaml:"dimensions"`
				} `yaml:"span_metrics"`
			} `yaml:"processor"`
		} `yaml:"metrics_generator"`
	}
	readYAML(t, "tempo/tempo.yaml", &cfg)
	var out []string
	for _, d := range cfg.MetricsGenerator.Processor.SpanMetrics.Dimensions {
		out = append(out, regexp.MustCompile(`[^a-zA-Z0-9_]`).ReplaceAllString(d, "_"))
	}
	return out
}

// promQuery is one PromQL expression of a dashboard and where it is.
type promQuery struct {
	where, expr string
}

type dashboard struct {
	file  string
	stage int
	json  map[string]any
}

func loadDashboards(t *testing.T) []dashboard {
	t.Helper()
	files, err := filepath.Glob("grafana/dashboards/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no dashboards in grafana/dashboards")
	var out []dashboard
	for _, f := range files {
		m := regexp.MustCompile(`^stage(\d+)\.json$`).FindStringSubmatch(filepath.Base(f))
		require.NotNil(t, m, "%s: dashboards are named stageN.json (the stage whose metrics it queries)", f)
		n, _ := strconv.Atoi(m[1])
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var d map[string]any
		require.NoError(t, json.Unmarshal(b, &d), f)
		out = append(out, dashboard{file: f, stage: n, json: d})
	}
	return out
}

// dsType is the type of a datasource reference ({"type": ..., "uid": ...}).
func dsRef(v any) (typ, uid string) {
	m, _ := v.(map[string]any)
	typ, _ = m["type"].(string)
	uid, _ = m["uid"].(string)
	return typ, uid
}

// promQueries lists the PromQL of a dashboard's panels (rows included) and
// of its query variables.
func promQueries(d map[string]any) []promQuery {
	var out []promQuery
	var walk func(panels []any)
	walk = func(panels []any) {
		for _, p := range panels {
			panel, _ := p.(map[string]any)
			title, _ := panel["title"].(string)
			panelType, _ := dsRef(panel["datasource"])
			targets, _ := panel["targets"].([]any)
			for _, tg := range targets {
				target, _ := tg.(map[string]any)
				typ, _ := dsRef(target["datasource"])
				if typ == "" {
					typ = panelType
				}
				if expr, ok := target["expr"].(string); ok && typ == "prometheus" {
					out = append(out, promQuery{fmt.Sprintf("panel %q target %v", title, target["refId"]), expr})
				}
			}
			if sub, ok := panel["panels"].([]any); ok {
				walk(sub)
			}
		}
	}
	panels, _ := d["panels"].([]any)
	walk(panels)

	templating, _ := d["templating"].(map[string]any)
	vars, _ := templating["list"].([]any)
	for _, v := range vars {
		variable, _ := v.(map[string]any)
		if typ, _ := dsRef(variable["datasource"]); variable["type"] != "query" || typ != "prometheus" {
			continue
		}
		q := variable["query"]
		if m, ok := q.(map[string]any); ok {
			q = m["query"]
		}
		if s, ok := q.(string); ok && s != "" {
			out = append(out, promQuery{fmt.Sprintf("variable %q", variable["name"]), s})
		}
	}
	return out
}

var (
	// Grafana's functions in a variable query: label_values(selector, label)
	// and query_result(expr) wrap PromQL.
	labelValuesRe = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
	queryResultRe = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
	builtinVarRe  = regexp.MustCompile(`\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}`)
	userVarRe     = regexp.MustCompile(`\$\{[a-zA-Z_][a-zA-Z0-9_:]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*`)
)

// substitute replaces Grafana's variables the way Grafana would before
// sending the query: durations for the interval variables, ".*" for the
// dashboard's own variables (they are used in regex matchers).
func substitute(expr string) string {
	expr = builtinVarRe.ReplaceAllString(expr, "5m")
	return userVarRe.ReplaceAllString(expr, ".*")
}

// unwrap returns the PromQL inside a variable query and the label a
// label_values query lists ("" if none).
func unwrap(q string) (expr, label string) {
	if m := labelValuesRe.FindStringSubmatch(q); m != nil {
		return m[1], m[2]
	}
	if m := queryResultRe.FindStringSubmatch(q); m != nil {
		return m[1], ""
	}
	return q, ""
}

// TestDashboardsQueryExportedMetrics: every PromQL expression of every
// dashboard parses, and every metric and label it selects is one the stage's
// services really export, as read from their /metrics after traffic — or one
// of Tempo's generated metrics. Dashboards drift from metrics (_total, unit
// suffixes, renames): this is the test that says so.
func TestDashboardsQueryExportedMetrics(t *testing.T) {
	dims := tempoDimensions(t)
	for _, d := range loadDashboards(t) {
		t.Run(filepath.Base(d.file), func(t *testing.T) {
			t.Parallel()
			queries := promQueries(d.json)
			require.NotEmpty(t, queries, "%s has no PromQL", d.file)
			targets := scrapeTargets(t, d.stage)

			scraped := sharedStage(t, d.stage).scrapeAll(t)
			for svc := range scraped {
				assert.True(t, targets.services[svc], "prometheus.yml's job stage%d has no target with service=%q", d.stage, svc)
			}

			for _, q := range queries {
				for _, p := range queryProblems(d.stage, q, scraped, targets, dims) {
					t.Error(p)
				}
			}
		})
	}
}

// selectorProblems says what is wrong with one selector of a stage's
// dashboard, given what the stage's services export (service → scrape).
func selectorProblems(stage int, where string, vs *parser.VectorSelector, listedLabel string,
	scraped map[string]exported, targets targetLabels, dims []string) []string {
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: %s: ", where, vs.String())+fmt.Sprintf(format, args...))
	}
	name := vs.Name
	var matchers []*labels.Matcher
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel {
			if m.Type == labels.MatchEqual {
				name = m.Value
			}
			continue
		}
		matchers = append(matchers, m)
	}
	if name == "" {
		fail("select a metric by name")
		return problems
	}

	if tempoLabels, ok := tempoMetrics[name]; ok {
		allowed := append(slices.Clone(tempoLabels), dims...)
		for _, m := range matchers {
			if !slices.Contains(allowed, m.Name) {
				fail("Tempo's %s has no label %q (it has %v)", name, m.Name, allowed)
			}
		}
		if listedLabel != "" && !slices.Contains(allowed, listedLabel) {
			fail("Tempo's %s has no label %q", name, listedLabel)
		}
		return problems
	}

	// Which services' scrapes the selector can match: the target labels
	// (job, service) narrow it down and must name this stage's targets.
	services := sortedKeys(scraped)
	for _, m := range matchers {
		switch m.Name {
		case "job":
			if !m.Matches("stage" + strconv.Itoa(stage)) {
				fail("the stage %d dashboard must select job=\"stage%d\"", stage, stage)
			}
		case "service":
			services = slices.DeleteFunc(services, func(s string) bool { return !m.Matches(s) })
			if len(services) == 0 {
				fail("no service of stage %d matches %s", stage, m)
				return problems
			}
		}
	}

	var found []exported
	for _, svc := range services {
		if _, ok := scraped[svc][name]; ok {
			found = append(found, scraped[svc])
		}
	}
	if len(found) == 0 {
		fail("%s is not exported by stage %d's %v", name, stage, services)
		return problems
	}
	for _, m := range matchers {
		if m.Name == "job" || m.Name == "service" || m.Name == "instance" || targets.extra[m.Name] {
			continue
		}
		hasLabel, hasValue := false, false
		for _, e := range found {
			values, ok := e[name][m.Name]
			hasLabel = hasLabel || ok
			for v := range values {
				hasValue = hasValue || m.Matches(v)
			}
		}
		switch {
		case !hasLabel:
			fail("label %q not on %s (%s)", m.Name, name, describe(found[0], name))
		case (m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp) && !hasValue:
			fail("no %s series has %s after traffic", name, m)
		}
	}
	if listedLabel != "" {
		ok := false
		for _, e := range found {
			_, has := e[name][listedLabel]
			ok = ok || has
		}
		if !ok {
			fail("label_values lists %q, which %s does not have", listedLabel, name)
		}
	}
	return problems
}

// queryProblems parses one dashboard query and checks each of its selectors.
func queryProblems(stage int, q promQuery, scraped map[string]exported, targets targetLabels, dims []string) []string {
	raw, label := unwrap(q.expr)
	expr, err := promql.ParseExpr(substitute(raw))
	if err != nil {
		return []string{fmt.Sprintf("%s: %s: %v", q.where, q.expr, err)}
	}
	var problems []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			problems = append(problems, selectorProblems(stage, q.where, vs, label, scraped, targets, dims)...)
		}
		return nil
	})
	return problems
}

// TestExemplarsInOpenMetrics: the services attach trace ids to their
// histograms (telemetry.Observe) and serve them in OpenMetrics, the format
// prometheus.yml asks for first, so Prometheus stores exemplars.
func TestExemplarsInOpenMetrics(t *testing.T) {
	t.Parallel()
	var cfg struct {
		Global struct {
			ScrapeProtocols []string `yaml:"scrape_protocols"`
		} `yaml:"global"`
	}
	readYAML(t, "prometheus/prometheus.yml", &cfg)
	require.NotEmpty(t, cfg.Global.ScrapeProtocols)
	assert.True(t, strings.HasPrefix(cfg.Global.ScrapeProtocols[0], "OpenMetricsText"),
		"prometheus.yml must ask for OpenMetrics first, where exemplars travel: %v", cfg.Global.ScrapeProtocols)

	stage := sharedStage(t, 4)
	for _, svc := range sortedKeys(stage.urls) {
		text := openMetrics(t, stage.urls[svc])
		assert.NotEmpty(t, exemplarLines(text, "http_request_duration_seconds_bucket"),
			"%s: no trace_id exemplar on http_request_duration_seconds", svc)
	}
	text := openMetrics(t, stage.urls["dice-roller"])
	assert.NotEmpty(t, exemplarLines(text, "async_roll_duration_seconds_bucket"), "dice-roller: no exemplar on async_roll_duration_seconds")
}

// TestQueryProblemsCatchDrift: the checker itself, on queries that must pass
// and on the drifts it is there to catch.
func TestQueryProblemsCatchDrift(t *testing.T) {
	scraped := map[string]exported{
		"dice-roller": {
			"dice_rolls_total":                     {"die_type": {"fair": true, "risky": true}, "result": {"success": true, "error": true}},
			"http_requests_total":                  {"handler": {"/roll": true}, "method": {"GET": true}, "status": {"2xx": true}},
			"http_request_duration_seconds_bucket": {"handler": {"/roll": true}, "method": {"GET": true}, "le": {"0.005": true, "+Inf": true}},
		},
		"frontend": {
			"frontend_requests_total": {"die_type": {"fair": true}, "status_code": {"200": true}},
		},
	}
	targets := targetLabels{services: map[string]bool{"dice-roller": true, "frontend": true}, extra: map[string]bool{}}
	dims := []string{"workshop_stage"}
	tests := []struct {
		name, expr string
		problem    string // "" when the query is right
	}{
		{"counter rate", `sum by (die_type) (rate(dice_rolls_total{job="stage2", result="error", die_type=~"$die"}[$__rate_interval]))`, ""},
		{"histogram quantile", `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="stage2", service="dice-roller", handler="/roll"}[5m])))`, ""},
		{"variable", `label_values(dice_rolls_total{job="stage2"}, die_type)`, ""},
		{"tempo span metrics", `sum(rate(traces_spanmetrics_calls_total{workshop_stage="2", span_kind="SPAN_KIND_SERVER"}[5m]))`, ""},
		{"does not parse", `sum(rate(dice_rolls_total[5m])`, "unclosed"},
		{"counter without _total", `rate(dice_rolls{job="stage2"}[5m])`, "dice_rolls is not exported"},
		{"histogram without _bucket", `histogram_quantile(0.5, rate(http_request_duration_seconds{job="stage2"}[5m]))`, "http_request_duration_seconds is not exported"},
		{"metric of another service", `frontend_requests_total{service="dice-roller"}`, "is not exported"},
		{"unknown label", `dice_rolls_total{job="stage2", die="fair"}`, `label "die" not on dice_rolls_total`},
		{"raw URL as handler", `http_requests_total{job="stage2", handler="/roll?die=fair"}`, `no http_requests_total series has handler="/roll?die=fair"`},
		{"another stage's job", `dice_rolls_total{job="stage3"}`, `must select job="stage2"`},
		{"unknown service", `dice_rolls_total{service="die-service"}`, "no service of stage 2 matches"},
		{"tempo label that is not", `traces_spanmetrics_calls_total{stage="2"}`, `no label "stage"`},
		{"variable on a missing label", `label_values(dice_rolls_total{job="stage2"}, die)`, `label_values lists "die"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := queryProblems(2, promQuery{"test", tt.expr}, scraped, targets, dims)
			if tt.problem == "" {
				assert.Empty(t, problems)
				return
			}
			require.NotEmpty(t, problems, "this drift went unnoticed")
			assert.Contains(t, strings.Join(problems, "\n"), tt.problem)
		})
	}
}
