// Package breaks is "break it" mode: the reference code of a stage with one
// classic instrumentation mistake switched in, so a learner sees in the
// viewer what the mistake looks like (`workshop up 4 --break
// background-context`) before making it in their own service.
//
// Each break is data: a name, the stages it applies to, what to look for, and
// exact text replacements applied to a temporary copy of the stage module.
// The stages stay untouched and carry no break switches; a replacement whose
// text is no longer in the stage fails loudly, so a change to the stages
// cannot silently turn a break into a no-op (the tests apply every break).
//
// These same variants will be the failing fixtures of `workshop check`'s
// tests (every check has known-bad code that must fail it): Find a break,
// Apply it to a copy of the reference, run the checks on the copy.
package breaks

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/files"
)

// Break is one instrumentation mistake.
type Break struct {
	Name    string // as given to --break
	Summary string // one line: what is wrong in the code
	Stages  []int  // the stages it applies to, ascending
	LookFor string // what the learner sees in the viewer
	// Edits turn the reference into the broken variant. File is relative to
	// the stage module; Old must occur in it exactly once.
	Edits []Edit
	// Env is added to the services' environment after the runner's own, for
	// a break whose effect the runner's settings would hide.
	Env []string
}

// Edit is one exact text replacement.
type Edit struct {
	File, Old, New string
}

// AppliesTo reports whether the break exists in the given stage.
func (b Break) AppliesTo(stage int) bool { return slices.Contains(b.Stages, stage) }

// StageRange spells the stages for people: "stage 4", "stages 2–4", "stages 1, 3".
func (b Break) StageRange() string {
	s := b.Stages
	switch {
	case len(s) == 0:
		return "no stage"
	case len(s) == 1:
		return "stage " + strconv.Itoa(s[0])
	case s[len(s)-1]-s[0] == len(s)-1:
		return fmt.Sprintf("stages %d–%d", s[0], s[len(s)-1])
	}
	parts := make([]string, len(s))
	for i, n := range s {
		parts[i] = strconv.Itoa(n)
	}
	return "stages " + strings.Join(parts, ", ")
}

// All is every break, in the order `workshop up --break list` shows them.
var All = []Break{
	{
		Name:    "no-propagator",
		Summary: "SetupOTelSDK does not install the W3C propagator, so no traceparent header crosses a service",
		Stages:  []int{2, 3, 4},
		LookFor: "roll in the frontend: each service now starts a trace of its own (the dice-roller's GET /roll is a root, " +
			"not a child of the frontend's call), instead of one trace across the services",
		Edits: []Edit{{
			File: "internal/telemetry/otel.go",
			Old: "\totel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(\n" +
				"\t\tpropagation.TraceContext{}, propagation.Baggage{},\n" +
				"\t))\n",
			New: "\t// workshop break no-propagator: the propagator is never installed, so the\n" +
				"\t// global one stays a no-op: nothing injects or extracts traceparent.\n" +
				"\tvar _ propagation.TextMapPropagator // (keeps the import in use)\n",
		}},
	},
	{
		Name:    "background-context",
		Summary: "the async_roll goroutines start their spans from context.Background() instead of the request's ctx",
		Stages:  []int{4},
		LookFor: "roll with \"Use async rolling\": GET /roll-async has no async_roll_* children any more, and each " +
			"async_roll_N is a one-span trace of its own in the list; a failed roll or a client that leaves no " +
			"longer cancels the other rolls",
		Edits: []Edit{{
			File: "dice-roller/batch.go",
			Old:  "ctx, span := s.tracer.Start(ctx, fmt.Sprintf(\"async_roll_%d\", i),\n",
			New:  "ctx, span := s.tracer.Start(context.Background(), fmt.Sprintf(\"async_roll_%d\", i), // workshop break background-context\n",
		}},
	},
	{
		Name:    "no-flush",
		Summary: "the shutdown func SetupOTelSDK returns is a no-op, so spans still queued at exit are lost",
		Stages:  []int{1, 2, 3, 4},
		LookFor: "roll and press Ctrl-C at once (within a few seconds): the last line `workshop up` prints counts the spans " +
			"the services' final flush delivered, 0 here where the reference delivers the last requests' spans " +
			"(on a server: the requests in flight at every deploy)",
		Edits: []Edit{{
			File: "internal/telemetry/otel.go",
			Old:  "\treturn tp.Shutdown, nil\n",
			New: "\t// workshop break no-flush: the shutdown func does nothing, so what the\n" +
				"\t// batcher still holds when the service stops is never exported.\n" +
				"\treturn func(context.Context) error { return nil }, nil\n",
		}},
		// The SDK's default export interval, as on a server: `up` exports
		// every half second for a live viewer, and an export between the
		// last request and the exit would deliver what this break loses.
		Env: []string{"OTEL_BSP_SCHEDULE_DELAY=5000"},
	},
	{
		Name:    "raw-url-label",
		Summary: "the HTTP metrics' handler label is r.URL.String() instead of the route pattern",
		Stages:  []int{1, 2, 3, 4},
		LookFor: "roll a few different dice, then open the metrics page: http_requests_total has one series per URL " +
			"(handler=\"/roll?die=fair\", handler=\"/roll?die=risky\", ...) instead of one per route; every new query " +
			"string is a new time series",
		Edits: []Edit{{
			File: "internal/telemetry/http.go",
			Old:  "route, method := Route(r), methodLabel(r.Method)\n",
			New:  "route, method := r.URL.String(), methodLabel(r.Method) // workshop break raw-url-label\n",
		}},
	},
	{
		Name:    "no-trace-id-in-logs",
		Summary: "the logger is the plain slog JSON handler, without the handler that adds trace_id and span_id",
		Stages:  []int{1, 2, 3, 4},
		LookFor: "open the logs page: no line links to a trace any more, and a trace's \"logs of this trace\" page is " +
			"empty; in the terminal the JSON lines have no trace_id",
		Edits: []Edit{{
			File: "internal/telemetry/logger.go",
			Old:  "\treturn slog.New(traceHandler{json}).With(\"service\", service)\n",
			New: "\t// workshop break no-trace-id-in-logs: the plain JSON handler; traceHandler,\n" +
				"\t// which stamps trace_id and span_id, is left out.\n" +
				"\treturn slog.New(json).With(\"service\", service)\n",
		}},
	},
}

// Names lists the breaks' names.
func Names() []string {
	names := make([]string, len(All))
	for i, b := range All {
		names[i] = b.Name
	}
	return names
}

// Find returns the break with the given name; the error lists the valid ones.
func Find(name string) (Break, error) {
	for _, b := range All {
		if b.Name == name {
			return b, nil
		}
	}
	return Break{}, fmt.Errorf("no break %q; valid: %s", name, strings.Join(Names(), ", "))
}

// Apply copies the stage module at srcDir to dstDir (which must not exist or
// be empty), leaving out lesson/ and the tests, and applies b's edits to the
// copy. It fails, naming the break and the file, when the break does not
// apply to stage or an edit's text is not found exactly once.
func Apply(srcDir, dstDir string, b Break, stage int) error {
	if !b.AppliesTo(stage) {
		return fmt.Errorf("break %s applies to %s, not stage %d", b.Name, b.StageRange(), stage)
	}
	if err := files.CopyModule(srcDir, dstDir, false); err != nil {
		return fmt.Errorf("break %s: %w", b.Name, err)
	}
	for _, e := range b.Edits {
		if err := edit(dstDir, e); err != nil {
			return fmt.Errorf("break %s: %w", b.Name, err)
		}
	}
	return nil
}

func edit(dir string, e Edit) error {
	path := filepath.Join(dir, filepath.FromSlash(e.File))
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", e.File, err)
	}
	text := string(data)
	if strings.Contains(text, "\r\n") { // a Windows checkout
		e.Old = strings.ReplaceAll(e.Old, "\n", "\r\n")
		e.New = strings.ReplaceAll(e.New, "\n", "\r\n")
	}
	if n := strings.Count(text, e.Old); n != 1 {
		return fmt.Errorf("%s: the text to replace occurs %d times, want exactly once "+
			"(did the stage change? update workshop/internal/breaks):\n%s", e.File, n, e.Old)
	}
	return os.WriteFile(path, []byte(strings.Replace(text, e.Old, e.New, 1)), 0o644)
}
