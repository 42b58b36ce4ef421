package stack

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// tempoConfig is the part of tempo.yaml the stack relies on.
type tempoConfig struct {
	MetricsGenerator struct {
		Processor struct {
			SpanMetrics struct {
				Dimensions []string `yaml:"dimensions"`
			} `yaml:"span_metrics"`
			ServiceGraphs struct {
				Dimensions []string `yaml:"dimensions"`
			} `yaml:"service_graphs"`
			LocalBlocks struct {
				FilterServerSpans *bool `yaml:"filter_server_spans"`
			} `yaml:"local_blocks"`
		} `yaml:"processor"`
		Storage struct {
			RemoteWrite []struct {
				URL           string `yaml:"url"`
				SendExemplars bool   `yaml:"send_exemplars"`
			} `yaml:"remote_write"`
		} `yaml:"storage"`
	} `yaml:"metrics_generator"`
	Overrides struct {
		Defaults struct {
			MetricsGenerator struct {
				Processors []string `yaml:"processors"`
			} `yaml:"metrics_generator"`
		} `yaml:"defaults"`
	} `yaml:"overrides"`
}

var traceqlMetricsRe = regexp.MustCompile(`\|\s*(rate|count_over_time|quantile_over_time|histogram_over_time|sum_over_time|min_over_time|max_over_time|avg_over_time)\(`)

// tempoProblems checks tempo.yaml against what the dashboards and the
// README ask of Tempo: the stage as a dimension of both span metrics and
// the service graph, the processors on, exemplars sent, and TraceQL metrics
// over every span kind the README's examples select.
func tempoProblems(src []byte, traceql []string) []string {
	var cfg tempoConfig
	if err := yaml.Unmarshal(src, &cfg); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	mg := cfg.MetricsGenerator
	if !slices.Contains(mg.Processor.SpanMetrics.Dimensions, "workshop.stage") {
		problems = append(problems, "span metrics lack the workshop.stage dimension the dashboards filter on (workshop_stage)")
	}
	if !slices.Contains(mg.Processor.ServiceGraphs.Dimensions, "workshop.stage") {
		problems = append(problems, "the service graph lacks the workshop.stage dimension: each stage's service map would show every stage's edges")
	}
	for _, p := range []string{"service-graphs", "span-metrics", "local-blocks"} {
		if !slices.Contains(cfg.Overrides.Defaults.MetricsGenerator.Processors, p) {
			problems = append(problems, fmt.Sprintf("the %s processor is off", p))
		}
	}
	if len(mg.Storage.RemoteWrite) == 0 || !mg.Storage.RemoteWrite[0].SendExemplars {
		problems = append(problems, "the metrics generator sends no exemplars: its metrics would not link to traces")
	}
	serverOnly := mg.Processor.LocalBlocks.FilterServerSpans == nil || *mg.Processor.LocalBlocks.FilterServerSpans
	for _, q := range traceql {
		if serverOnly && traceqlMetricsRe.MatchString(q) && !strings.Contains(q, "kind = server") {
			problems = append(problems, fmt.Sprintf("%q: local_blocks keeps server spans only (filter_server_spans defaults to true), so TraceQL metrics miss the spans it selects", q))
		}
	}
	return problems
}

// TestTempoConfig: tempo.yaml gives the dashboards and the README what they
// ask for; each mutation, a defect seen on the live stack, is caught.
func TestTempoConfig(t *testing.T) {
	src, err := os.ReadFile("tempo/tempo.yaml")
	require.NoError(t, err)
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	traceql := fencedLines(string(readme), "traceql")
	require.True(t, slices.ContainsFunc(traceql, func(q string) bool { return strings.Contains(q, `{ name =~ "async_roll_.*" } | rate()`) }),
		"the README's TraceQL metrics example of the rolls")
	assert.Empty(t, tempoProblems(src, traceql))

	for _, m := range []struct{ name, old, new, problem string }{
		{"service graph of every stage at once", "    service_graphs:\n      dimensions: [workshop.stage]\n", "", "service graph lacks the workshop.stage dimension"},
		{"TraceQL metrics on server spans only", "filter_server_spans: false", "filter_server_spans: true", "keeps server spans only"},
		{"local blocks left to their default", "    local_blocks:\n      filter_server_spans: false\n", "", "keeps server spans only"},
		{"no exemplars", "send_exemplars: true", "send_exemplars: false", "sends no exemplars"},
		{"no span metrics", "processors: [service-graphs, span-metrics, local-blocks]", "processors: [service-graphs, local-blocks]", "span-metrics processor is off"},
	} {
		t.Run(m.name, func(t *testing.T) {
			require.Contains(t, string(src), m.old, "the mutation no longer applies to tempo.yaml: update it")
			problems := tempoProblems([]byte(strings.Replace(string(src), m.old, m.new, 1)), traceql)
			require.NotEmpty(t, problems, "this mistake went unnoticed")
			assert.Contains(t, strings.Join(problems, "\n"), m.problem)
		})
	}
}

// lokiProblems: structured metadata is allowed (trace_id lives there, which
// needs the tsdb index and schema v13), and a retention period is enforced
// (only the compactor deletes, and only with retention enabled and a store
// for delete requests, without which Loki 3 refuses to start).
func lokiProblems(src []byte) []string {
	var cfg struct {
		SchemaConfig struct {
			Configs []struct {
				Store  string `yaml:"store"`
				Schema string `yaml:"schema"`
			} `yaml:"configs"`
		} `yaml:"schema_config"`
		LimitsConfig struct {
			AllowStructuredMetadata bool   `yaml:"allow_structured_metadata"`
			RetentionPeriod         string `yaml:"retention_period"`
		} `yaml:"limits_config"`
		Compactor struct {
			WorkingDirectory   string `yaml:"working_directory"`
			RetentionEnabled   bool   `yaml:"retention_enabled"`
			DeleteRequestStore string `yaml:"delete_request_store"`
		} `yaml:"compactor"`
	}
	if err := yaml.Unmarshal(src, &cfg); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	if !cfg.LimitsConfig.AllowStructuredMetadata {
		problems = append(problems, "structured metadata is not allowed: Alloy's trace_id would be refused")
	}
	if n := len(cfg.SchemaConfig.Configs); n == 0 || cfg.SchemaConfig.Configs[n-1].Store != "tsdb" || cfg.SchemaConfig.Configs[n-1].Schema != "v13" {
		problems = append(problems, "structured metadata needs the tsdb store and schema v13")
	}
	if cfg.LimitsConfig.RetentionPeriod != "" {
		c := cfg.Compactor
		if !c.RetentionEnabled {
			problems = append(problems, "retention_period "+cfg.LimitsConfig.RetentionPeriod+" does nothing: compactor.retention_enabled is false")
		}
		if c.RetentionEnabled && (c.DeleteRequestStore == "" || c.WorkingDirectory == "") {
			problems = append(problems, "with retention enabled Loki needs compactor.delete_request_store and working_directory")
		}
	}
	return problems
}

func TestLokiConfig(t *testing.T) {
	src, err := os.ReadFile("loki/loki.yaml")
	require.NoError(t, err)
	assert.Empty(t, lokiProblems(src))
	assert.Contains(t, string(src), "retention_period:", "logs are kept for a bounded time")
	for _, m := range []struct{ name, old, new, problem string }{
		{"retention that deletes nothing", "retention_enabled: true", "retention_enabled: false", "does nothing"},
		{"retention without a delete store", "  delete_request_store: filesystem\n", "", "needs compactor.delete_request_store"},
		{"no structured metadata", "allow_structured_metadata: true", "allow_structured_metadata: false", "structured metadata is not allowed"},
		{"an old schema", "schema: v13", "schema: v12", "schema v13"},
	} {
		t.Run(m.name, func(t *testing.T) {
			require.Contains(t, string(src), m.old, "the mutation no longer applies to loki.yaml: update it")
			problems := lokiProblems([]byte(strings.Replace(string(src), m.old, m.new, 1)))
			require.NotEmpty(t, problems, "this mistake went unnoticed")
			assert.Contains(t, strings.Join(problems, "\n"), m.problem)
		})
	}
}
