package viewer

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// maxListedLogs is how many log lines the logs page shows.
const maxListedLogs = 500

type logsData struct {
	Service  string // the filter, "" for all
	TraceID  string // the filter, "" for all
	Services []serviceTag
	Records  []logRow
}

type logRow struct {
	otlp.LogRecord
	Color int
	// TraceHeld says the trace is still in the store: its link will work.
	TraceHeld bool
}

// logsPage lists recent log lines, of one service (?service=) or of one
// trace (?trace=, the link from a trace to its logs), newest first.
func (v *viewer) logsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := logsData{Service: q.Get("service"), TraceID: strings.ToLower(q.Get("trace"))}

	// Every known service gets a tab, even before it has logged anything.
	names := v.store.Services()
	names = append(names, slices.Collect(maps.Keys(v.opts.Metrics))...)
	slices.Sort(names)
	data.Services = v.colors.tags(slices.Compact(names))

	limit := maxListedLogs
	if data.TraceID != "" {
		limit = 0 // filtered below
	}
	for _, rec := range v.store.Logs(data.Service, limit) {
		if data.TraceID != "" && rec.TraceID != data.TraceID {
			continue
		}
		row := logRow{LogRecord: rec, Color: v.colors.of(rec.Service)}
		if rec.TraceID != "" {
			row.TraceHeld = v.store.HasTrace(rec.TraceID)
		}
		data.Records = append(data.Records, row)
		if len(data.Records) == maxListedLogs {
			break
		}
	}
	heading := "Logs"
	if data.Service != "" {
		heading = "Logs of " + data.Service
	}
	v.render(w, http.StatusOK, "logs", page{Heading: heading, Nav: "logs", Refresh: refreshSeconds, Data: data})
}
