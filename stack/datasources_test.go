package stack

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type provisionedDatasource struct {
	Name     string         `yaml:"name"`
	Type     string         `yaml:"type"`
	UID      string         `yaml:"uid"`
	URL      string         `yaml:"url"`
	JSONData map[string]any `yaml:"jsonData"`
}

func loadDatasources(t *testing.T) map[string]provisionedDatasource {
	t.Helper()
	files, err := filepath.Glob("grafana/provisioning/datasources/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string]provisionedDatasource{}
	for _, f := range files {
		var doc struct {
			Datasources []provisionedDatasource `yaml:"datasources"`
		}
		readYAML(t, f, &doc)
		for _, ds := range doc.Datasources {
			require.NotEmpty(t, ds.UID, "%s: datasource %q needs a fixed uid (the dashboards refer to it)", f, ds.Name)
			require.NotContains(t, out, ds.UID, "%s: uid %q provisioned twice", f, ds.UID)
			out[ds.UID] = ds
		}
	}
	return out
}

// correlationUIDs lists the datasource uids a datasource's correlation
// settings point to, by setting.
func correlationUIDs(ds provisionedDatasource) map[string]string {
	out := map[string]string{}
	uidOf := func(v any) string {
		m, _ := v.(map[string]any)
		s, _ := m["datasourceUid"].(string)
		return s
	}
	for _, key := range []string{"tracesToLogsV2", "tracesToLogs", "tracesToMetrics", "tracesToProfiles", "serviceMap", "lokiSearch"} {
		if u := uidOf(ds.JSONData[key]); u != "" {
			out[key] = u
		}
	}
	for _, key := range []string{"derivedFields", "exemplarTraceIdDestinations"} {
		list, _ := ds.JSONData[key].([]any)
		for i, item := range list {
			if u := uidOf(item); u != "" {
				out[fmt.Sprintf("%s[%d]", key, i)] = u
			}
		}
	}
	return out
}

// TestDatasourceUIDs: every datasource a dashboard or a correlation setting
// names is provisioned, with the type the reference says; the four links of
// the lesson are wired (trace → logs, log trace_id → trace, exemplar →
// trace, service graph from Prometheus).
func TestDatasourceUIDs(t *testing.T) {
	dss := loadDatasources(t)

	for _, ds := range dss {
		for setting, uid := range correlationUIDs(ds) {
			assert.Contains(t, dss, uid, "datasource %q: %s.datasourceUid %q is not provisioned", ds.Name, setting, uid)
		}
	}

	byType := func(typ string) provisionedDatasource {
		for _, ds := range dss {
			if ds.Type == typ {
				return ds
			}
		}
		t.Fatalf("no %s datasource provisioned", typ)
		return provisionedDatasource{}
	}
	prom, loki, tempo := byType("prometheus"), byType("loki"), byType("tempo")
	links := []struct {
		name     string
		from     provisionedDatasource
		setting  string
		wantType string
	}{
		{"trace to logs", tempo, "tracesToLogsV2", "loki"},
		{"service graph", tempo, "serviceMap", "prometheus"},
		{"log trace_id to trace", loki, "derivedFields[0]", "tempo"},
		{"exemplar to trace", prom, "exemplarTraceIdDestinations[0]", "tempo"},
	}
	for _, l := range links {
		uid, ok := correlationUIDs(l.from)[l.setting]
		if assert.True(t, ok, "%s: %s has no %s", l.name, l.from.Name, l.setting) {
			assert.Equal(t, l.wantType, dss[uid].Type, "%s: %s.%s points to %q", l.name, l.from.Name, l.setting, uid)
		}
	}
	// The services label exemplars and log lines "trace_id".
	exemplar, _ := prom.JSONData["exemplarTraceIdDestinations"].([]any)
	if assert.NotEmpty(t, exemplar) {
		assert.Equal(t, "trace_id", exemplar[0].(map[string]any)["name"], "the exemplar label the services set")
	}
	derived, _ := loki.JSONData["derivedFields"].([]any)
	if assert.NotEmpty(t, derived) {
		assert.Equal(t, "trace_id", derived[0].(map[string]any)["matcherRegex"], "the structured metadata key Alloy sets")
	}

	for _, d := range loadDashboards(t) {
		walkDatasourceRefs(d.json, func(where, typ, uid string) {
			if uid == "" || uid[0] == '-' { // "-- Grafana --", "-- Mixed --", "-- Dashboard --"
				return
			}
			ds, ok := dss[uid]
			if assert.True(t, ok, "%s: %s uses datasource uid %q, which is not provisioned", d.file, where, uid) && typ != "" {
				assert.Equal(t, ds.Type, typ, "%s: %s: datasource %q is a %s", d.file, where, uid, ds.Type)
			}
		})
	}
}

// walkDatasourceRefs calls f for every {"datasource": {"type", "uid"}} of a dashboard.
func walkDatasourceRefs(v any, f func(where, typ, uid string)) {
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if title, ok := x["title"].(string); ok {
				where = fmt.Sprintf("%q", title)
			}
			for k, child := range x {
				if k == "datasource" {
					if s, ok := child.(string); ok { // a legacy name reference
						f(where, "", s)
						continue
					}
					typ, uid := dsRef(child)
					f(where, typ, uid)
					continue
				}
				walk(where, child)
			}
		case []any:
			for _, child := range x {
				walk(where, child)
			}
		}
	}
	walk("dashboard", v)
}

// TestDashboardProvisioning: Grafana's dashboard provider reads the folder
// where compose mounts grafana/dashboards, and the provisioning folder is
// mounted where Grafana reads it.
func TestDashboardProvisioning(t *testing.T) {
	var prov struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/dashboards.yaml", &prov)
	require.Len(t, prov.Providers, 1)
	require.Equal(t, "file", prov.Providers[0].Type)

	mounts := composeMounts(t, "compose.yaml", "grafana")
	assert.Equal(t, prov.Providers[0].Options.Path, mounts["./grafana/dashboards"],
		"the dashboard provider's path must be where compose.yaml mounts ./grafana/dashboards")
	assert.Equal(t, "/etc/grafana/provisioning", mounts["./grafana/provisioning"])

	// The home dashboard Grafana opens is one of ours.
	var c composeFile
	readYAML(t, "compose.yaml", &c)
	home := c.Services["grafana"].Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
	assert.Equal(t, prov.Providers[0].Options.Path+"/stage4.json", home)
}

// unprovisionedUIDs lists every "datasourceUid" (correlation settings, data
// links, derived fields: any depth) and every {"datasource": {"uid"}} in v
// that names no provisioned datasource.
func unprovisionedUIDs(dss map[string]provisionedDatasource, v any) []string {
	var problems []string
	check := func(where, uid string) {
		if uid == "" || uid[0] == '-' || strings.HasPrefix(uid, "$") { // "-- Grafana --", "${ds}"
			return
		}
		if _, ok := dss[uid]; !ok {
			problems = append(problems, fmt.Sprintf("%s uses datasource uid %q, which is not provisioned", where, uid))
		}
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if title, ok := x["title"].(string); ok {
				where = fmt.Sprintf("%q", title)
			}
			for k, child := range x {
				switch k {
				case "datasourceUid":
					s, _ := child.(string)
					check(where+"."+k, s)
				case "datasource":
					if s, ok := child.(string); ok {
						check(where, s)
					} else {
						_, uid := dsRef(child)
						check(where, uid)
					}
				default:
					walk(where, child)
				}
			}
		case []any:
			for _, child := range x {
				walk(where, child)
			}
		}
	}
	walk("", v)
	return problems
}

// TestEveryUsedUIDIsProvisioned: datasources' settings and dashboards
// (panels, targets, data links) name provisioned uids only; a mistaken uid
// in each place is caught.
func TestEveryUsedUIDIsProvisioned(t *testing.T) {
	dss := loadDatasources(t)
	for _, ds := range dss {
		assert.Empty(t, unprovisionedUIDs(dss, ds.JSONData), ds.Name)
	}
	for _, d := range loadDashboards(t) {
		assert.Empty(t, unprovisionedUIDs(dss, d.json), d.file)
	}
	for name, v := range map[string]any{
		"a derived field to a missing Tempo": map[string]any{"derivedFields": []any{map[string]any{"name": "trace_id", "datasourceUid": "tempo2"}}},
		"a data link to a missing datasource": map[string]any{"panels": []any{map[string]any{"title": "p", "fieldConfig": map[string]any{"defaults": map[string]any{
			"links": []any{map[string]any{"internal": map[string]any{"datasourceUid": "nope"}}}}}}}},
		"a panel on a missing datasource":  map[string]any{"panels": []any{map[string]any{"title": "p", "datasource": map[string]any{"type": "prometheus", "uid": "prom"}}}},
		"a legacy datasource name":         map[string]any{"panels": []any{map[string]any{"title": "p", "datasource": "Prometheus"}}},
		"a target on a missing datasource": map[string]any{"targets": []any{map[string]any{"datasource": map[string]any{"uid": "mimir"}}}},
	} {
		assert.NotEmpty(t, unprovisionedUIDs(dss, v), "went unnoticed: %s", name)
	}
}
