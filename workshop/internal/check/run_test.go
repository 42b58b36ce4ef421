package check

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/breaks"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// fixture is a copy of a reference stage with one classic learner mistake:
// it must fail exactly one check, the one about that mistake.
type fixture struct {
	fails string // the key of the check that must fail
	stage int
	brk   string        // a break of `workshop up --break`, or
	edits []breaks.Edit // edits of its own
}

var fixtures = []fixture{
	{fails: "api", stage: 1, edits: []breaks.Edit{{File: "dice-roller/handlers.go",
		Old: `map[string]int{"roll": value}`, New: `map[string]int{"value": value}`}}},
	{fails: "bad-input", stage: 1, edits: []breaks.Edit{{File: "dice-roller/handlers.go",
		Old: "service.WriteError(w, http.StatusBadRequest, msg)", New: "service.WriteError(w, http.StatusInternalServerError, msg)"}}},
	{fails: "server-spans", stage: 1, edits: []breaks.Edit{{File: "internal/telemetry/http.go",
		Old: "trace.SpanFromContext(r.Context()).SetAttributes(semconv.HTTPRoute(route))", New: "_, _ = trace.SpanFromContext(r.Context()), semconv.HTTPRoute(route) // http.route is never set"}}},
	{fails: "roll-span", stage: 1, edits: []breaks.Edit{{File: "dice-roller/handlers.go",
		Old: `attribute.Bool("die.error", false)`, New: `attribute.String("die.error", "false")`}}},
	{fails: "http-metrics", stage: 1, brk: "raw-url-label"},
	{fails: "dice-metrics", stage: 1, edits: []breaks.Edit{{File: "dice-roller/metrics.go",
		Old: "Buckets: []float64{1, 2, 3, 4, 5, 6, 7, 8},", New: "Buckets: prometheus.DefBuckets,"}}},
	{fails: "logs-json", stage: 1, edits: []breaks.Edit{{File: "internal/telemetry/logger.go",
		Old: `return slog.String("level", "WARNING")`, New: `return slog.String("level", "WARN")`}}},
	{fails: "logs-trace", stage: 1, brk: "no-trace-id-in-logs"},
	{fails: "flush", stage: 1, brk: "no-flush"},
	{fails: "frontend-trace", stage: 2, brk: "no-propagator"},
	{fails: "frontend-span", stage: 2, edits: []breaks.Edit{{File: "frontend/handlers.go",
		Old: `attribute.Int("backend.status_code", status)`, New: `attribute.String("backend.status_code", strconv.Itoa(status))`}}},
	{fails: "frontend-metrics", stage: 2, edits: []breaks.Edit{{File: "frontend/handlers.go",
		Old: "s.metrics.requests.WithLabelValues(label, strconv.Itoa(status)).Inc()", New: "s.metrics.requests.WithLabelValues(die, strconv.Itoa(status)).Inc()"}}},
	{fails: "die-service", stage: 3, edits: []breaks.Edit{{File: "die-service/handlers.go",
		Old: "s.metrics.specsRequested.WithLabelValues(unknownLabel).Inc()", New: "s.metrics.specsRequested.WithLabelValues(id).Inc()"}}},
	{fails: "lookup-metrics", stage: 3, edits: []breaks.Edit{{File: "dice-roller/dice.go",
		Old: "label := unknownLabel\n", New: "label := die // the raw die, even one the die-service does not know\n"}}},
	{fails: "three-service-trace", stage: 3, edits: []breaks.Edit{{File: "dice-roller/handlers.go",
		Old: "client: tel.NewHTTPClient(0), // the lookup's context carries the timeout", New: "client: http.DefaultClient,"}}},
	{fails: "three-service-trace", stage: 3, edits: []breaks.Edit{{File: "frontend/dice.go", // the starter's stub of exercise 3.4
		Old: "req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+\"/dice\", nil)", New: "req, err := http.NewRequest(http.MethodGet, c.url+\"/dice\", nil)"}}},
	{fails: "async-children", stage: 4, brk: "background-context"},
	{fails: "async-overlap", stage: 4, edits: []breaks.Edit{{File: "dice-roller/batch.go",
		Old: "g, ctx := errgroup.WithContext(ctx)\n", New: "g, ctx := errgroup.WithContext(ctx)\n\tg.SetLimit(1) // one roll at a time\n"}}},
	{fails: "async-span", stage: 4, edits: []breaks.Edit{{File: "dice-roller/handlers.go",
		Old: `attribute.Int("async.total_result", total)`, New: `attribute.String("async.total_result", fmt.Sprint(total))`}}},
	{fails: "async-metrics", stage: 4, edits: []breaks.Edit{{File: "dice-roller/batch.go",
		Old: "defer s.metrics.asyncInProgress.Dec()", New: "// (the gauge is never decremented)"}}},
}

func referenceDir(t testing.TB, stage int) string {
	t.Helper()
	root, err := repo.Root(".")
	require.NoError(t, err)
	return repo.StageDir(root, stage)
}

// failing lists the checks that failed or were skipped: neither passed.
func failing(res *Result) []string {
	var keys []string
	for _, o := range res.Outcomes {
		if !o.Passed {
			keys = append(keys, o.ID)
		}
	}
	return keys
}

// TestEveryCheckHasAFixture keeps the table honest: a new check needs a
// fixture that fails it.
func TestEveryCheckHasAFixture(t *testing.T) {
	covered := map[string]bool{}
	for _, f := range fixtures {
		covered[f.fails] = true
	}
	for _, s := range catalog {
		assert.True(t, covered[s.key], "check %q has no failing fixture", s.key)
	}
}

// TestFixturesFailExactlyTheirCheck runs each broken copy of a reference
// stage as local processes and checks that the mistake is caught by its
// check and by no other.
func TestFixturesFailExactlyTheirCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a stage per fixture")
	}
	for _, f := range fixtures {
		t.Run(f.fails, func(t *testing.T) {
			t.Parallel()
			b := breaks.Break{Name: "fixture-" + f.fails, Stages: []int{f.stage}, Edits: f.edits}
			if f.brk != "" {
				var err error
				b, err = breaks.Find(f.brk)
				require.NoError(t, err)
			}
			dir := filepath.Join(t.TempDir(), "stage"+strconv.Itoa(f.stage))
			require.NoError(t, breaks.Apply(referenceDir(t, f.stage), dir, b, f.stage))

			res, err := Run(t.Context(), Options{Stage: f.stage, Dir: dir, Runtime: "local"})
			require.NoError(t, err)
			require.NoError(t, res.Setup)
			assert.Equal(t, []string{f.fails}, failing(res), "only the %s check fails", f.fails)
			for _, o := range res.Outcomes {
				if !o.Passed { // what a learner would read
					require.NotNil(t, o.Failure)
					assert.NotEmpty(t, o.Failure.Expected)
					assert.NotEmpty(t, o.Failure.Seen)
					assert.NotEmpty(t, o.Places(), "check %s says where to look", o.ID)
				}
			}
			var report bytes.Buffer
			WriteReport(&report, res, false)
			t.Log(report.String())
		})
	}
}

// TestReferenceStagesPass checks every reference stage on both runtimes.
func TestReferenceStagesPass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every stage")
	}
	runtimes := []string{"local", "docker"}
	if _, err := runtime.DetectEngine(t.Context()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %v", err)
		}
		t.Logf("docker runtime not tested: %v", err)
		runtimes = []string{"local"}
	}
	for _, rt := range runtimes {
		for n := 1; n <= 4; n++ {
			t.Run(rt+"/stage"+strconv.Itoa(n), func(t *testing.T) {
				res, err := Run(t.Context(), Options{Stage: n, Dir: referenceDir(t, n), Runtime: rt})
				require.NoError(t, err)
				require.NoError(t, res.Setup)
				assert.Empty(t, failing(res), "the reference passes every check")
				assert.Len(t, res.Outcomes, len(Catalog(n)))
				assert.Equal(t, rt, res.Runtime)
				t.Logf("stage %d on %s: %d/%d in %s", n, rt, res.Passed(), len(res.Outcomes), res.Duration.Round(time.Millisecond))
			})
		}
	}
	left, err := runtime.Sweep(t.Context(), true)
	if err == nil {
		assert.Equal(t, runtime.Leftovers{}, left, "no container, network or image is left")
	}
}

// TestBrokenBuildIsReportedWithTheCompilerOutput: nothing runs, the report
// says why.
func TestBrokenBuildIsReportedWithTheCompilerOutput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stage1")
	b := breaks.Break{Name: "syntax", Stages: []int{1}, Edits: []breaks.Edit{{File: "dice-roller/roll.go",
		Old: "func sleep(", New: "func sleep(ctx context.Context, d time.Duration) error { return undefinedName }\n\nfunc sleepOld("}}}
	require.NoError(t, breaks.Apply(referenceDir(t, 1), dir, b, 1))
	res, err := Run(t.Context(), Options{Stage: 1, Dir: dir, Runtime: "local"})
	require.NoError(t, err)
	var be *stage.BuildError
	require.ErrorAs(t, res.Setup, &be)
	assert.Contains(t, be.Output, "undefined: undefinedName")
	assert.Empty(t, res.Outcomes)
	assert.False(t, res.OK())
}

func TestFailingKeysAreStable(t *testing.T) {
	// The fixtures name checks by key; keys must exist.
	for _, f := range fixtures {
		found := slices.ContainsFunc(catalog, func(s spec) bool { return s.key == f.fails })
		assert.True(t, found, "fixture names unknown check %q", f.fails)
		_, applies := catalogSpec(f.fails).steps[f.stage]
		assert.True(t, applies, "check %s applies to stage %d", f.fails, f.stage)
	}
}

func catalogSpec(key string) spec {
	for _, s := range catalog {
		if s.key == key {
			return s
		}
	}
	return spec{}
}
