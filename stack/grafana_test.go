package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	grafana "github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var registerGrafanaPlugins = sync.OnceFunc(plugins.RegisterDefaultPlugins)

// loadTypedDashboard reads a dashboard strictly into Grafana's typed model
// (grafana-foundation-sdk): an unknown field, a missing required one, a
// panel option its panel type does not have, or a query of an unknown
// datasource type is an error.
//
//lint:ignore SA1019 classic dashboard JSON, see below
func loadTypedDashboard(raw []byte) (*grafana.Dashboard, error) {
	registerGrafanaPlugins()
	// The provisioned files are classic dashboard JSON (schemaVersion 41),
	// the model Grafana 12 provisions from files; dashboardv2 is another schema.
	//lint:ignore SA1019 see above
	var d grafana.Dashboard
	err := d.UnmarshalJSONStrict(raw)
	var build cog.BuildErrors
	if errors.As(err, &build) && len(build) == 0 {
		err = nil // the SDK returns an empty list as a non-nil error
	}
	if err != nil {
		return nil, err
	}
	for _, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		for i, q := range p.Panel.Targets {
			if _, unknown := q.(variants.UnknownDataquery); unknown {
				return nil, errors.New("panel " + derefString(p.Panel.Title) + ": target " + string(rune('0'+i)) + " has no datasource type the typed model knows")
			}
		}
	}
	return &d, nil
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestDashboardsLoadStrictly: every dashboard loads strictly into the typed
// model, and each fixture of testdata/grafana, a dashboard with one mistake,
// is refused for it.
func TestDashboardsLoadStrictly(t *testing.T) {
	files, err := filepath.Glob("grafana/dashboards/*.json")
	require.NoError(t, err)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		d, err := loadTypedDashboard(raw)
		if assert.NoError(t, err, f) {
			assert.NotEmpty(t, d.Panels, f)
			assert.NotNil(t, d.Uid, f)
		}
	}

	// The fixtures are this one with one mistake each.
	valid, err := os.ReadFile(filepath.Join("testdata", "grafana", "valid.json"))
	require.NoError(t, err)
	_, err = loadTypedDashboard(valid)
	require.NoError(t, err, "testdata/grafana/valid.json")
	for fixture, problem := range map[string]string{
		"gauge-with-stat-options.json":      "unexpected field 'colorMode'",
		"misspelled-panel-field.json":       "unexpected field 'datasorce'",
		"prometheus-target-typo.json":       "unexpected field 'exp'",
		"tempo-target-without-filters.json": "filters: required field is missing",
		"link-without-its-fields.json":      "keepTime: required field is missing",
	} {
		t.Run(fixture, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "grafana", fixture))
			require.NoError(t, err)
			_, err = loadTypedDashboard(raw)
			require.Error(t, err, "the typed model accepted %s", fixture)
			assert.Contains(t, err.Error(), problem)
		})
	}
}

// serviceMapProblems: a dashboard's service map asks Tempo's service graph
// for its own stage only, by a label tempo.yaml makes a service-graph
// dimension (several stages run side by side; the graph would mix them).
func serviceMapProblems(d dashboard, graphLabels []string) []string {
	var problems []string
	maps := 0
	walkTargets(d.json, func(target map[string]any) {
		if target["queryType"] != "serviceMap" {
			return
		}
		maps++
		q, _ := target["serviceMapQuery"].(string)
		labels := map[string]string{}
		if q != "" {
			expr, err := promql.ParseExpr("traces_service_graph_request_total" + q)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: serviceMapQuery %q: %v", d.file, q, err))
				return
			}
			parserInspectMatchers(expr, labels)
		}
		if labels["workshop_stage"] != strconv.Itoa(d.stage) {
			problems = append(problems, fmt.Sprintf("%s: the service map shows every stage's edges: serviceMapQuery %q must select workshop_stage=\"%d\"", d.file, q, d.stage))
		}
		for name := range labels {
			if !slices.Contains(graphLabels, name) {
				problems = append(problems, fmt.Sprintf("%s: serviceMapQuery filters on %s, which is no service-graph dimension of tempo.yaml %v", d.file, name, graphLabels))
			}
		}
	})
	if d.stage >= 2 && maps != 1 {
		problems = append(problems, fmt.Sprintf("%s: %d service maps, want 1", d.file, maps))
	}
	return problems
}

func TestServiceGraphPerStage(t *testing.T) {
	var cfg struct {
		MetricsGenerator struct {
			Processor struct {
				ServiceGraphs struct {
					Dimensions []string `yaml:"dimensions"`
				} `yaml:"service_graphs"`
			} `yaml:"processor"`
		} `yaml:"metrics_generator"`
	}
	readYAML(t, "tempo/tempo.yaml", &cfg)
	var graphLabels []string
	for _, d := range cfg.MetricsGenerator.Processor.ServiceGraphs.Dimensions {
		graphLabels = append(graphLabels, strings.NewReplacer(".", "_", "-", "_").Replace(d))
	}
	for _, d := range loadDashboards(t) {
		assert.Empty(t, serviceMapProblems(d, graphLabels))
	}

	// Mistakes it must catch, on stage 4's dashboard.
	for name, tt := range map[string]struct {
		query, problem string
		labels         []string
	}{
		"no filter":               {"", "shows every stage's edges", graphLabels},
		"another stage":           {`{workshop_stage="3"}`, "shows every stage's edges", graphLabels},
		"a label Tempo never set": {`{workshop_stage="4", stage="4"}`, "filters on stage", graphLabels},
		"no dimension in Tempo":   {`{workshop_stage="4"}`, "no service-graph dimension", nil},
	} {
		t.Run(name, func(t *testing.T) {
			d := dashboard{file: "stage4.json", stage: 4, json: map[string]any{"panels": []any{map[string]any{
				"targets": []any{map[string]any{"queryType": "serviceMap", "serviceMapQuery": tt.query}}}}}}
			problems := serviceMapProblems(d, tt.labels)
			require.NotEmpty(t, problems, "this mistake went unnoticed")
			assert.Contains(t, strings.Join(problems, "\n"), tt.problem)
		})
	}
}

// walkTargets calls f for every target of every panel, rows included.
func walkTargets(d map[string]any, f func(map[string]any)) {
	var walk func(panels []any)
	walk = func(panels []any) {
		for _, p := range panels {
			panel, _ := p.(map[string]any)
			targets, _ := panel["targets"].([]any)
			for _, tg := range targets {
				if m, ok := tg.(map[string]any); ok {
					f(m)
				}
			}
			if sub, ok := panel["panels"].([]any); ok {
				walk(sub)
			}
		}
	}
	panels, _ := d["panels"].([]any)
	walk(panels)
}

func parserInspectMatchers(expr parser.Expr, out map[string]string) {
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				if m.Name != model.MetricNameLabel {
					out[m.Name] = m.Value
				}
			}
		}
		return nil
	})
}
