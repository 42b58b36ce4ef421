package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// tempoExemplarLabel is the label of the exemplars Tempo's metrics
// generator writes with its span metrics and service graph (seen on the
// live stack; no Tempo runs in these tests).
const tempoExemplarLabel = "traceID"

type traceToLogsTag struct{ attribute, label string }

// traceToLogsTags are Tempo's trace → logs tags: a span attribute, and the
// Loki label Grafana filters on with its value (the attribute's own name
// when no label is given).
func traceToLogsTags(ds provisionedDatasource) []traceToLogsTag {
	var out []traceToLogsTag
	v2, _ := ds.JSONData["tracesToLogsV2"].(map[string]any)
	tags, _ := v2["tags"].([]any)
	for _, tg := range tags {
		m, _ := tg.(map[string]any)
		key, _ := m["key"].(string)
		label, _ := m["value"].(string)
		if label == "" {
			label = key
		}
		out = append(out, traceToLogsTag{key, label})
	}
	return out
}

type derivedField struct{ name, matcherType, matcherRegex, datasourceUID string }

func derivedFields(ds provisionedDatasource) []derivedField {
	var out []derivedField
	list, _ := ds.JSONData["derivedFields"].([]any)
	for _, item := range list {
		m, _ := item.(map[string]any)
		f := derivedField{}
		f.name, _ = m["name"].(string)
		f.matcherType, _ = m["matcherType"].(string)
		f.matcherRegex, _ = m["matcherRegex"].(string)
		f.datasourceUID, _ = m["datasourceUid"].(string)
		out = append(out, f)
	}
	return out
}

func datasourceOfType(t *testing.T, typ string) provisionedDatasource {
	t.Helper()
	for _, ds := range loadDatasources(t) {
		if ds.Type == typ {
			return ds
		}
	}
	t.Fatalf("no %s datasource provisioned", typ)
	return provisionedDatasource{}
}

func stackLokiStreams(t *testing.T) lokiStreams {
	t.Helper()
	src, err := os.ReadFile("alloy/config.alloy")
	require.NoError(t, err)
	c, err := parseAlloy("config.alloy", src)
	require.NoError(t, err)
	return c.lokiStreams()
}

// logLevels are the values of the dashboards' log level variable.
func logLevels(t *testing.T) []string {
	t.Helper()
	var levels []string
	for _, d := range loadDashboards(t) {
		templating, _ := d.json["templating"].(map[string]any)
		vars, _ := templating["list"].([]any)
		for _, v := range vars {
			variable, _ := v.(map[string]any)
			if variable["name"] == "level" {
				q, _ := variable["query"].(string)
				levels = strings.Split(q, ",")
			}
		}
	}
	require.NotEmpty(t, levels, "the dashboards' level variable")
	return levels
}

// logProblems checks a stage's real log lines (service → lines) against
// what Alloy and Grafana read in them: JSON objects with an RFC 3339
// timestamp and a level the dashboards offer; the field each derived field
// reads carries trace ids; with the stage's spans, every logged trace id is
// a trace the service itself exported (Tempo's trace → logs link finds the
// line from the span, the log → trace link finds the trace).
func logProblems(lines map[string][]string, fields []derivedField, metadata map[string]string, levels []string, spans []receivedSpan) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	traces := map[string]map[string]bool{} // service.name → trace ids it exported
	for _, s := range spans {
		svc := s.resource["service.name"].GetStringValue()
		if traces[svc] == nil {
			traces[svc] = map[string]bool{}
		}
		traces[svc][s.traceID] = true
	}
	found := map[string]int{} // derived field → trace ids found
	for _, svc := range sortedKeys(lines) {
		for _, line := range lines[svc] {
			if strings.TrimSpace(line) == "" {
				continue
			}
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				fail("%s: a log line that is not one JSON object (Alloy's stage.json drops it): %s", svc, line)
				continue
			}
			ts, _ := obj["timestamp"].(string)
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
				fail("%s: timestamp %q is not RFC 3339 (Alloy's stage.timestamp): %s", svc, ts, line)
			}
			if level, _ := obj["level"].(string); !slices.Contains(levels, level) {
				fail("%s: level %q is not one the dashboards' level variable offers (%v): %s", svc, level, levels, line)
			}
			for _, f := range fields {
				var id string
				switch f.matcherType {
				case "label":
					id, _ = obj[metadata[f.matcherRegex]].(string)
				default: // regex over the line
					re, err := regexp.Compile(f.matcherRegex)
					if err != nil {
						fail("derived field %q: %v", f.name, err)
						continue
					}
					if m := re.FindStringSubmatch(line); len(m) > 1 {
						id = m[1]
					}
				}
				if id == "" {
					continue
				}
				if !traceIDRe.MatchString(id) {
					fail("%s: derived field %q reads %q, not a trace id: %s", svc, f.name, id, line)
					continue
				}
				found[f.name]++
				if spans != nil && !traces[svc][id] {
					fail("%s: logs trace %s, of which it exported no span: neither link finds the other: %s", svc, id, line)
				}
			}
		}
	}
	for _, f := range fields {
		if found[f.name] == 0 {
			fail("derived field %q (%s %q) finds no trace id in any log line of the stage", f.name, f.matcherType, f.matcherRegex)
		}
	}
	return problems
}

// checkLogLines runs logProblems on a stage's real log lines with the
// stack's own Loki datasource and Alloy pipeline.
func checkLogLines(t *testing.T, stage int, lines map[string][]string, spans []receivedSpan) {
	t.Helper()
	fields := derivedFields(datasourceOfType(t, "loki"))
	require.NotEmpty(t, fields)
	for _, p := range logProblems(lines, fields, stackLokiStreams(t).metadata, logLevels(t), spans) {
		t.Errorf("stage %d: %s", stage, p)
	}
}

// TestLogProblemsCatchMistakes: the log checks on lines they must refuse.
func TestLogProblemsCatchMistakes(t *testing.T) {
	id := "4bf92f3577b34da6a3ce929d0e0e4736"
	spans := []receivedSpan{{traceID: id, resource: map[string]*commonpb.AnyValue{"service.name": {Value: &commonpb.AnyValue_StringValue{StringValue: "dice-roller"}}}}}
	good := `{"timestamp":"2025-01-02T03:04:05.123456Z","level":"INFO","message":"rolled","trace_id":"` + id + `","span_id":"00f067aa0ba902b7"}`
	label := []derivedField{{name: "trace_id", matcherType: "label", matcherRegex: "trace_id"}}
	metadata := map[string]string{"trace_id": "trace_id"}
	levels := []string{"INFO", "WARNING", "ERROR"}
	require.Empty(t, logProblems(map[string][]string{"dice-roller": {good}}, label, metadata, levels, spans))
	require.Empty(t, logProblems(map[string][]string{"dice-roller": {good}},
		[]derivedField{{name: "traceID", matcherRegex: `"trace_id":"(\w+)"`}}, metadata, levels, spans))

	for _, tt := range []struct {
		name    string
		line    string
		fields  []derivedField
		spans   []receivedSpan
		problem string
	}{
		{"not JSON", "rolled a 4 " + id, label, spans, "not one JSON object"},
		{"no timestamp", strings.Replace(good, `"timestamp":"2025-01-02T03:04:05.123456Z",`, "", 1), label, spans, "is not RFC 3339"},
		{"a level the dashboards do not offer", strings.Replace(good, `"INFO"`, `"info"`, 1), label, spans, `level "info"`},
		{"the trace id under another name", strings.Replace(good, `"trace_id"`, `"traceId"`, 1), label, spans, "finds no trace id"},
		{"a regex that captures the span id", good, []derivedField{{name: "t", matcherRegex: `"span_id":"(\w+)"`}}, spans, "not a trace id"},
		{"a trace the service did not export", good, label, []receivedSpan{}, "exported no span"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			problems := logProblems(map[string][]string{"dice-roller": {tt.line}}, tt.fields, metadata, levels, tt.spans)
			require.NotEmpty(t, problems, "this mistake went unnoticed")
			assert.Contains(t, strings.Join(problems, "\n"), tt.problem)
		})
	}
}

// TestCorrelationWithTheServices: the fields Grafana's correlation links
// name are the ones the real services emit. Each stage runs as processes
// exporting to an OTLP sink; its spans, log lines and /metrics are compared
// with the datasources, Alloy's pipeline, prometheus.yml and the compose files.
func TestCorrelationWithTheServices(t *testing.T) {
	root := repoRoot(t)
	tempo, prom := datasourceOfType(t, "tempo"), datasourceOfType(t, "prometheus")
	streams := stackLokiStreams(t)
	dims := tempoDimensions(t)
	for n := range stagePorts {
		t.Run("stage"+strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			stage := sharedStage(t, n)
			spans := stage.sink.received()
			require.NotEmpty(t, spans, "the services exported no span")

			services := stageServices(t, n)
			var c composeFile
			readYAML(t, stageCompose(root, n), &c)
			seen := map[string]bool{}
			for _, s := range spans {
				name := s.resource["service.name"].GetStringValue()
				seen[name] = true
				// Tempo's trace → logs tags: each attribute is on the span,
				// and the Loki label Grafana filters on is one Alloy sets.
				for _, tag := range traceToLogsTags(tempo) {
					assert.Contains(t, s.resource, tag.attribute, "a %s span has no %s: Tempo's trace → logs link filters on it", name, tag.attribute)
					assert.Contains(t, streams.labels, tag.label)
				}
				// The stage on the resource, an int: TraceQL's resource.workshop.stage = N
				// and the span metrics / service graph dimension workshop_stage="N".
				assert.Equal(t, int64(n), s.resource["workshop.stage"].GetIntValue(), "workshop.stage on %s's spans", name)
			}
			assert.ElementsMatch(t, services, sortedKeys(seen), "the service.name of the stage's spans")
			// Alloy's service_name comes from the compose label workshop.service:
			// it must be the span's service.name, or trace → logs finds nothing.
			for _, svc := range services {
				assert.True(t, seen[c.Services[svc].Labels["workshop.service"]],
					"compose label workshop.service=%q of %s is no service.name its spans carry", c.Services[svc].Labels["workshop.service"], svc)
			}
			assert.Contains(t, dims, "workshop_stage", "tempo.yaml's span metrics dimensions")

			// Tempo → Prometheus (tracesToMetrics) filters on the service label of prometheus.yml.
			targets := scrapeTargets(t, n)
			metricsTags, _ := tempo.JSONData["tracesToMetrics"].(map[string]any)
			tags, _ := metricsTags["tags"].([]any)
			for _, tg := range tags {
				m, _ := tg.(map[string]any)
				if m["value"] == "service" {
					for svc := range seen {
						assert.True(t, targets.services[svc], "prometheus.yml has no service=%q in job stage%d", svc, n)
					}
				}
			}

			// Exemplars: every label name the services put on them has a link to Tempo.
			destinations := map[string]bool{}
			list, _ := prom.JSONData["exemplarTraceIdDestinations"].([]any)
			for _, d := range list {
				m, _ := d.(map[string]any)
				if m["datasourceUid"] == "tempo" {
					destinations[m["name"].(string)] = true
				}
			}
			assert.True(t, destinations[tempoExemplarLabel], "no exemplar link for Tempo's own label %s", tempoExemplarLabel)
			for svc, u := range stage.urls {
				for _, name := range exemplarLabelNames(openMetrics(t, u)) {
					assert.True(t, destinations[name], "%s labels its exemplars %q, which no exemplarTraceIdDestinations links to Tempo", svc, name)
				}
			}

			lines := map[string][]string{}
			for svc, out := range stage.logs {
				lines[svc] = strings.Split(out.String(), "\n")
			}
			checkLogLines(t, n, lines, spans)
		})
	}
}

var exemplarLabelRe = regexp.MustCompile(` # \{([^}]*)\}`)

// exemplarLabelNames are the label names of the exemplars in an OpenMetrics text.
func exemplarLabelNames(text string) []string {
	var out []string
	for _, m := range exemplarLabelRe.FindAllStringSubmatch(text, -1) {
		for _, pair := range strings.Split(m[1], ",") {
			if name, _, ok := strings.Cut(pair, "="); ok && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}
