package stack

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/grafana/alloy/syntax/ast"
	"github.com/grafana/alloy/syntax/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// alloyConfig is an Alloy file read with Alloy's own parser
// (github.com/grafana/alloy/syntax): its components by "type.label", and
// every reference one component makes to another's export.
type alloyConfig struct {
	components map[string]*ast.BlockStmt
	order      []string
	refs       []alloyRef
}

type alloyRef struct{ from, path string }

// alloyExports are the exports of the component types the stack uses
// (Alloy's reference). A reference to another export of these is a typo.
var alloyExports = map[string][]string{
	"otelcol.receiver.otlp":   {},
	"otelcol.processor.batch": {"input"},
	"otelcol.exporter.otlp":   {"input"},
	"discovery.docker":        {"targets"},
	"discovery.relabel":       {"output", "rules"},
	"loki.source.docker":      {},
	"loki.process":            {"receiver"},
	"loki.write":              {"receiver"},
}

func parseAlloy(name string, src []byte) (*alloyConfig, error) {
	f, err := parser.ParseFile(name, src)
	if err != nil {
		return nil, err
	}
	c := &alloyConfig{components: map[string]*ast.BlockStmt{}}
	for _, stmt := range f.Body {
		block, ok := stmt.(*ast.BlockStmt)
		if !ok {
			return nil, fmt.Errorf("%s: only components at the top level, found %T", name, stmt)
		}
		key := block.GetBlockName() + "." + block.Label
		if _, dup := c.components[key]; dup {
			return nil, fmt.Errorf("%s: %s declared twice", name, key)
		}
		c.components[key] = block
		c.order = append(c.order, key)
		walkAlloyBody(block.Body, func(path string) { c.refs = append(c.refs, alloyRef{key, path}) })
	}
	return c, nil
}

// walkAlloyBody calls ref for every reference (a.b.c) in body's expressions.
func walkAlloyBody(body ast.Body, ref func(string)) {
	for _, stmt := range body {
		switch s := stmt.(type) {
		case *ast.AttributeStmt:
			walkAlloyExpr(s.Value, ref)
		case *ast.BlockStmt:
			walkAlloyBody(s.Body, ref)
		}
	}
}

func walkAlloyExpr(e ast.Expr, ref func(string)) {
	switch x := e.(type) {
	case *ast.IdentifierExpr, *ast.AccessExpr:
		if path, ok := alloyPath(x); ok {
			ref(path)
		}
	case *ast.IndexExpr:
		walkAlloyExpr(x.Value, ref)
		walkAlloyExpr(x.Index, ref)
	case *ast.ArrayExpr:
		for _, el := range x.Elements {
			walkAlloyExpr(el, ref)
		}
	case *ast.ObjectExpr:
		for _, f := range x.Fields {
			walkAlloyExpr(f.Value, ref)
		}
	case *ast.CallExpr: // a standard library function (sys.env, ...): only its arguments refer
		for _, a := range x.Args {
			walkAlloyExpr(a, ref)
		}
	case *ast.UnaryExpr:
		walkAlloyExpr(x.Value, ref)
	case *ast.BinaryExpr:
		walkAlloyExpr(x.Left, ref)
		walkAlloyExpr(x.Right, ref)
	case *ast.ParenExpr:
		walkAlloyExpr(x.Inner, ref)
	}
}

func alloyPath(e ast.Expr) (string, bool) {
	switch x := e.(type) {
	case *ast.IdentifierExpr:
		return x.Ident.Name, true
	case *ast.AccessExpr:
		p, ok := alloyPath(x.Value)
		return p + "." + x.Name.Name, ok
	}
	return "", false
}

// blocks are the nested blocks of body named name ("rule", "stage.json").
func alloyBlocks(body ast.Body, name string) []*ast.BlockStmt {
	var out []*ast.BlockStmt
	for _, stmt := range body {
		if b, ok := stmt.(*ast.BlockStmt); ok && b.GetBlockName() == name {
			out = append(out, b)
		}
	}
	return out
}

// alloyString is the string literal value of attribute name in body.
func alloyString(body ast.Body, name string) (string, bool) {
	for _, stmt := range body {
		if a, ok := stmt.(*ast.AttributeStmt); ok && a.Name.Name == name {
			if lit, ok := a.Value.(*ast.LiteralExpr); ok {
				s, err := strconv.Unquote(lit.Value)
				return s, err == nil
			}
		}
	}
	return "", false
}

// alloyObject is the object attribute name of body: key → string value.
func alloyObject(body ast.Body, name string) map[string]string {
	out := map[string]string{}
	for _, stmt := range body {
		a, ok := stmt.(*ast.AttributeStmt)
		if !ok || a.Name.Name != name {
			continue
		}
		obj, _ := a.Value.(*ast.ObjectExpr)
		if obj == nil {
			continue
		}
		for _, f := range obj.Fields {
			v := ""
			if lit, ok := f.Value.(*ast.LiteralExpr); ok {
				v, _ = strconv.Unquote(lit.Value)
			}
			out[f.Name.Name] = v
		}
	}
	return out
}

// typeOf is a component key's type: "loki.process.services" → "loki.process".
func typeOf(key string) string { return key[:strings.LastIndex(key, ".")] }

// wiringProblems: every reference names a declared component and an export
// it has; every component but the sources is used by another.
func (c *alloyConfig) wiringProblems() []string {
	var problems []string
	used := map[string]bool{}
	for _, r := range c.refs {
		var target string
		for key := range c.components {
			if strings.HasPrefix(r.path, key+".") && len(key) > len(target) {
				target = key
			}
		}
		if target == "" {
			problems = append(problems, fmt.Sprintf("%s refers to %s, which is not declared in the file", r.from, r.path))
			continue
		}
		used[target] = true
		export := strings.SplitN(strings.TrimPrefix(r.path, target+"."), ".", 2)[0]
		if exports, known := alloyExports[typeOf(target)]; known && !slices.Contains(exports, export) {
			problems = append(problems, fmt.Sprintf("%s refers to %s: a %s exports %v, not %q", r.from, r.path, typeOf(target), exports, export))
		}
	}
	for _, key := range c.order {
		source := strings.HasPrefix(key, "otelcol.receiver.") || strings.HasPrefix(key, "loki.source.")
		if !source && !used[key] {
			problems = append(problems, fmt.Sprintf("%s is declared but no component uses it (a broken pipeline)", key))
		}
	}
	return problems
}

// otlpEndpoints are the OTLP receiver's listen addresses by protocol.
func (c *alloyConfig) otlpEndpoints() map[string]string {
	out := map[string]string{}
	for key, b := range c.components {
		if typeOf(key) != "otelcol.receiver.otlp" {
			continue
		}
		for _, proto := range []string{"grpc", "http"} {
			for _, pb := range alloyBlocks(b.Body, proto) {
				ep, _ := alloyString(pb.Body, "endpoint")
				out[proto] = ep
			}
		}
	}
	return out
}

// lokiStreams is what reaches Loki: the stream labels (relabel rules the
// log sources apply, and stage.labels) and the structured metadata keys,
// each with the JSON field of the log line it comes from.
type lokiStreams struct {
	labels   []string
	metadata map[string]string // key → JSON field
}

func (c *alloyConfig) lokiStreams() lokiStreams {
	s := lokiStreams{metadata: map[string]string{}}
	for _, r := range c.refs {
		if !strings.HasPrefix(typeOf(r.from), "loki.source.") || !strings.HasSuffix(r.path, ".rules") {
			continue
		}
		relabel, ok := c.components[strings.TrimSuffix(r.path, ".rules")]
		if !ok {
			continue
		}
		for _, rule := range alloyBlocks(relabel.Body, "rule") {
			if l, ok := alloyString(rule.Body, "target_label"); ok && !strings.HasPrefix(l, "__") {
				s.labels = append(s.labels, l)
			}
		}
	}
	for key, b := range c.components {
		if typeOf(key) != "loki.process" {
			continue
		}
		extracted := map[string]string{} // name → JSON field
		for _, st := range alloyBlocks(b.Body, "stage.json") {
			for name, field := range alloyObject(st.Body, "expressions") {
				if field == "" {
					field = name
				}
				extracted[name] = field
			}
		}
		for _, st := range alloyBlocks(b.Body, "stage.labels") {
			for name := range alloyObject(st.Body, "values") {
				s.labels = append(s.labels, name)
			}
		}
		for _, st := range alloyBlocks(b.Body, "stage.structured_metadata") {
			for name, source := range alloyObject(st.Body, "values") {
				if source == "" {
					source = name
				}
				s.metadata[name] = extracted[source]
			}
		}
	}
	slices.Sort(s.labels)
	s.labels = slices.Compact(s.labels)
	return s
}

// alloyWants is what the rest of the stack needs from Alloy's config.
type alloyWants struct {
	otlpPorts map[string]string // protocol → the container port compose publishes
	labels    map[string]string // Loki label → who filters on it
	metadata  map[string]string // structured metadata key → who reads it
	perStream []string          // never a label: one value per request
}

// alloyProblems checks an Alloy file against what the stack needs.
func alloyProblems(src []byte, want alloyWants) []string {
	c, err := parseAlloy("config.alloy", src)
	if err != nil {
		return []string{err.Error()}
	}
	problems := c.wiringProblems()
	eps := c.otlpEndpoints()
	for proto, port := range want.otlpPorts {
		host, p, err := net.SplitHostPort(eps[proto])
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("the OTLP receiver has no %s endpoint host:port (%q)", proto, eps[proto]))
		case host != "0.0.0.0":
			problems = append(problems, fmt.Sprintf("the OTLP %s receiver binds %s: inside a container it must bind 0.0.0.0, or the services in other containers cannot reach it", proto, host))
		case p != port:
			problems = append(problems, fmt.Sprintf("the OTLP %s receiver listens on %s, compose publishes %s", proto, p, port))
		}
	}
	streams := c.lokiStreams()
	for label, who := range want.labels {
		if !slices.Contains(streams.labels, label) {
			problems = append(problems, fmt.Sprintf("%s filters on the Loki label %q, which Alloy does not set (labels: %v)", who, label, streams.labels))
		}
	}
	for key, who := range want.metadata {
		if _, ok := streams.metadata[key]; !ok {
			problems = append(problems, fmt.Sprintf("%s reads %q, which Alloy does not put in structured metadata", who, key))
		}
	}
	for _, key := range want.perStream {
		if slices.Contains(streams.labels, key) {
			problems = append(problems, fmt.Sprintf("%s is a Loki label: one value per request makes a stream per request; put it in structured metadata", key))
		}
		if _, ok := streams.metadata[key]; !ok {
			problems = append(problems, fmt.Sprintf("%s is not structured metadata: a log line cannot link to its trace", key))
		}
	}
	return problems
}

// stackAlloyWants derives what Alloy must provide from the other files:
// compose's published OTLP ports, the Loki labels the datasources, the
// dashboards and the README filter on, the structured metadata the Loki
// datasource's derived fields read.
func stackAlloyWants(t *testing.T) alloyWants {
	t.Helper()
	w := alloyWants{otlpPorts: map[string]string{}, labels: map[string]string{}, metadata: map[string]string{},
		perStream: []string{"trace_id", "span_id"}}
	var c composeFile
	readYAML(t, "compose.yaml", &c)
	for _, p := range c.Services["alloy"].Ports {
		if m := portMapping.FindStringSubmatch(p); m != nil {
			switch m[3] {
			case "4317":
				w.otlpPorts["grpc"] = m[3]
			case "4318":
				w.otlpPorts["http"] = m[3]
			}
		}
	}
	require.Len(t, w.otlpPorts, 2, "compose.yaml publishes Alloy's OTLP ports 4317 and 4318")

	for _, ds := range loadDatasources(t) {
		switch ds.Type {
		case "tempo":
			for _, tag := range traceToLogsTags(ds) {
				w.labels[tag.label] = fmt.Sprintf("Tempo's trace to logs link (tag %s)", tag.attribute)
			}
		case "loki":
			for _, f := range derivedFields(ds) {
				if f.matcherType == "label" {
					w.metadata[f.matcherRegex] = fmt.Sprintf("the Loki datasource's derived field %q", f.name)
				}
			}
		}
	}
	for _, d := range loadDashboards(t) {
		for _, q := range lokiQueries(d.json) {
			for _, l := range logqlStreamLabels(q) {
				w.labels[l] = fmt.Sprintf("%s (%s)", d.file, q)
			}
		}
	}
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, q := range fencedLines(string(readme), "logql") {
		for _, l := range logqlStreamLabels(q) {
			w.labels[l] = fmt.Sprintf("README.md (%s)", q)
		}
	}
	return w
}

var (
	braceRe   = regexp.MustCompile(`\{([^{}]*)\}`)
	matcherRe = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
)

// logqlStreamLabels are the label names of a LogQL query's stream selectors.
func logqlStreamLabels(q string) []string {
	var out []string
	for _, m := range braceRe.FindAllStringSubmatch(q, -1) {
		for _, mm := range matcherRe.FindAllStringSubmatch(m[1], -1) {
			out = append(out, mm[1])
		}
	}
	return out
}

// fencedLines are the lines of the README's ```lang blocks.
func fencedLines(md, lang string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(md, "\n") {
		switch {
		case strings.TrimSpace(line) == "```"+lang:
			in = true
		case in && strings.HasPrefix(strings.TrimSpace(line), "```"):
			in = false
		case in && strings.TrimSpace(line) != "":
			out = append(out, line)
		}
	}
	return out
}

// lokiQueries are the LogQL expressions of a dashboard's Loki targets.
func lokiQueries(d map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if typ, _ := dsRef(x["datasource"]); typ == "loki" {
				if expr, ok := x["expr"].(string); ok {
					out = append(out, expr)
				}
			}
			for _, child := range x {
				walk(child)
			}
		case []any:
			for _, child := range x {
				walk(child)
			}
		}
	}
	walk(d["panels"])
	return out
}

// TestAlloyConfig checks config.alloy with Alloy's parser against what the
// stack needs of it; then each mutation of the file, a mistake seen in real
// configs, must be caught.
func TestAlloyConfig(t *testing.T) {
	src, err := os.ReadFile("alloy/config.alloy")
	require.NoError(t, err)
	want := stackAlloyWants(t)
	assert.Contains(t, want.labels, "service_name")
	assert.Contains(t, want.metadata, "trace_id")
	assert.Empty(t, alloyProblems(src, want))

	mutations := []struct {
		name, old, new, problem string
	}{
		{"does not parse", "loki.write \"default\" {", "loki.write \"default\" {{", "config.alloy:"},
		{"a component that is not declared", "forward_to    = [loki.process.services.receiver]", "forward_to    = [loki.process.service.receiver]",
			"refers to loki.process.service.receiver, which is not declared"},
		{"an export that does not exist", "traces = [otelcol.exporter.otlp.tempo.input]", "traces = [otelcol.exporter.otlp.tempo.receiver]",
			`exports [input], not "receiver"`},
		{"a component nothing uses", "traces = [otelcol.processor.batch.default.input]", "traces = [otelcol.exporter.otlp.tempo.input]",
			"otelcol.processor.batch.default is declared but no component uses it"},
		{"the receiver on localhost", `endpoint = "0.0.0.0:4318"`, `endpoint = "localhost:4318"`, "binds localhost"},
		{"the receiver on another port", `endpoint = "0.0.0.0:4317"`, `endpoint = "0.0.0.0:14317"`, "listens on 14317, compose publishes 4317"},
		{"trace_id as a label", "      level = \"\",\n", "      level = \"\",\n      trace_id = \"\",\n", "trace_id is a Loki label"},
		{"span_id not in structured metadata", "      span_id  = \"\",\n    }", "    }", "span_id is not structured metadata"},
		{"no service_name label", `target_label  = "service_name"`, `target_label  = "service"`, `the Loki label "service_name"`},
		{"no stage label", `target_label  = "stage"`, `target_label  = "workshop_stage"`, `the Loki label "stage"`},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			require.Contains(t, string(src), m.old, "the mutation no longer applies to config.alloy: update it")
			problems := alloyProblems([]byte(strings.Replace(string(src), m.old, m.new, 1)), want)
			require.NotEmpty(t, problems, "this mistake went unnoticed")
			assert.Contains(t, strings.Join(problems, "\n"), m.problem)
		})
	}
}
