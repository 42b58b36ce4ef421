package check

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

var (
	traceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	spanIDPattern  = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

func checkLogsJSON(o *Observation) error {
	for _, service := range o.Services {
		lines, bad := jsonLines(o.Logs(service))
		if bad != "" {
			return fail(fmt.Sprintf("every line the %s prints to be a JSON object", service), fmt.Sprintf("%q", short([]byte(bad)))).at(pLogger)
		}
		if len(lines) == 0 {
			return fail(fmt.Sprintf("log lines from the %s", service), "it printed nothing").at(pLogger)
		}
		for _, l := range lines {
			ts, _ := l["timestamp"].(string)
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
				return fail(fmt.Sprintf(`a "timestamp" in RFC 3339 on every line of the %s`, service), fmt.Sprintf("%v in %s", l["timestamp"], jsonString(l))).at(pLogger)
			}
			if level, _ := l["level"].(string); !slices.Contains([]string{"DEBUG", "INFO", "WARNING", "ERROR"}, level) {
				return fail(fmt.Sprintf(`"level" INFO, WARNING or ERROR on every line of the %s`, service), fmt.Sprintf("%v in %s", l["level"], jsonString(l))).at(pLogger)
			}
			if msg, _ := l["message"].(string); msg == "" {
				return fail(fmt.Sprintf(`a "message" on every line of the %s`, service), jsonString(l)).at(pLogger)
			}
		}
	}
	return nil
}

func checkLogsTrace(o *Observation) error {
	lines, _ := jsonLines(o.Logs("dice-roller"))
	var results []map[string]any
	for _, l := range lines {
		if l["message"] == "roll result" {
			results = append(results, l)
		}
	}
	if len(results) == 0 {
		seen := "none"
		if note := o.LogsDropped("dice-roller"); note != "" {
			// A service that logs in a loop pushes the roll's lines out of
			// the bounded capture: say so rather than blame the logging.
			seen = "none among the lines kept " + note
		}
		return fail(`a "roll result" log line from the dice-roller for each roll`, seen).at(pRoll)
	}
	// The first roll's line must point at a span that was really received:
	// its trace id and span id are the link from the log to the trace.
	l := results[0]
	tid, _ := l["trace_id"].(string)
	sid, _ := l["span_id"].(string)
	if !traceIDPattern.MatchString(tid) || !spanIDPattern.MatchString(sid) {
		f := fail(`"trace_id" (32 hex digits) and "span_id" (16 hex digits) on the "roll result" line`,
			jsonString(l)+": the logger does not add them from the span in the context it is given").at(pLogHandler)
		if silent := o.silent("dice-roller"); silent != nil {
			f.Seen = jsonString(l) + ", and no span of the dice-roller was received at all: without a tracer provider there is no span to take the ids from"
			f.where = []*place{pSDK, pLogHandler}
		}
		return f
	}
	t, ok := o.Store.Trace(tid)
	if !ok {
		return fail("the log line's trace_id to be a trace the dice-roller exported",
			fmt.Sprintf("no trace %s was received: the line was logged with a context other than the request's", tid)).at(pRoll, pLogHandler)
	}
	for _, s := range t.Spans {
		if s.SpanID == sid {
			return nil
		}
	}
	return withTrace(fail("the log line's span_id to be a span of its trace", "span_id "+sid+" is not among them"), t).at(pLogHandler)
}

// jsonString shows a decoded log line as the JSON it was, shortened.
func jsonString(l map[string]any) string {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Sprint(l)
	}
	return short(b)
}

// jsonLines decodes a service's log lines; it reports the first that is not
// a JSON object.
func jsonLines(lines []string) ([]map[string]any, string) {
	var out []map[string]any
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			return out, l
		}
		out = append(out, m)
	}
	return out, ""
}
