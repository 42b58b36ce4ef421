package viewer

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// logsPerPage is how many log lines one logs page shows: with each line
// cut to the store's MaxLogLineBytes, the page stays a few MB at most
// (200 lines of 1 MB once made it 210 MB, reloaded every 5 s).
const logsPerPage = 100

type logsData struct {
	Service  string // the filter, "" for all
	TraceID  string // the filter, "" for all
	Services []serviceTag
	Records  []logRow
	Page     int    // 0 for the newest lines
	Older    string // the query of the next page of older lines, "" for none
	Newer    string // the query of the previous page, "" on the first
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

	pageNo, _ := strconv.Atoi(q.Get("page"))
	pageNo = min(max(0, pageNo), 1<<20) // bounded: the limit below must not overflow
	var rows []otlp.LogRecord
	if data.TraceID != "" {
		for _, rec := range v.store.Logs(data.Service, 0) {
			if rec.TraceID == data.TraceID {
				rows = append(rows, rec)
			}
		}
	} else {
		rows = v.store.Logs(data.Service, (pageNo+1)*logsPerPage+1) // one more: is there an older page?
	}
	first := min(pageNo*logsPerPage, len(rows))
	last := min(first+logsPerPage, len(rows))
	for _, rec := range rows[first:last] {
		row := logRow{LogRecord: rec, Color: v.colors.of(rec.Service)}
		if rec.TraceID != "" {
			row.TraceHeld = v.store.HasTrace(rec.TraceID)
		}
		data.Records = append(data.Records, row)
	}
	data.Page = pageNo
	pageQuery := func(n int) string {
		pq := url.Values{}
		for k, v := range map[string]string{"service": data.Service, "trace": data.TraceID} {
			if v != "" {
				pq.Set(k, v)
			}
		}
		if n > 0 {
			pq.Set("page", strconv.Itoa(n))
		}
		return "?" + pq.Encode()
	}
	if last < len(rows) {
		data.Older = pageQuery(pageNo + 1)
	}
	if pageNo > 0 {
		data.Newer = pageQuery(pageNo - 1)
	}
	heading := "Logs"
	if data.Service != "" {
		heading = "Logs of " + data.Service
	}
	refresh := refreshSeconds
	if pageNo > 0 {
		refresh = 0 // an older page stays put while it is read
	}
	v.render(w, http.StatusOK, "logs", page{Heading: heading, Nav: "logs", Refresh: refresh, Data: data})
}
