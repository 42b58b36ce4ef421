package viewer

import (
	"net/http"
	"slices"
	"time"
)

// maxListedTraces is how many traces the front page lists.
const maxListedTraces = 100

// traceRow is one line of the recent traces list.
type traceRow struct {
	ID, Name, RootService string
	Services              []serviceTag
	Spans, Errors         int
	Start                 time.Time
	Duration              time.Duration
}

type tracesData struct {
	Rows     []traceRow
	Service  string       // the filter, "" for all
	Services []serviceTag // to filter by
	Held     int          // traces in the store
	Max      int          // the store's bound
}

func (v *viewer) tracesPage(w http.ResponseWriter, r *http.Request) {
	service := r.URL.Query().Get("service")
	traces := v.store.Traces(0)
	data := tracesData{
		Service:  service,
		Services: v.colors.tags(v.store.Services()),
		Held:     len(traces),
		Max:      v.store.Limits().MaxTraces,
	}
	for _, tr := range traces {
		services := tr.Services()
		if service != "" && !slices.Contains(services, service) {
			continue
		}
		root := tr.Root()
		data.Rows = append(data.Rows, traceRow{
			ID: tr.ID, Name: root.Name, RootService: root.Service,
			Services: v.colors.tags(services),
			Spans:    len(tr.Spans), Errors: errorCount(tr.Spans),
			Start: tr.Start(), Duration: tr.Duration(),
		})
		if len(data.Rows) == maxListedTraces {
			break
		}
	}
	v.render(w, http.StatusOK, "traces", page{Heading: "Recent traces", Nav: "traces", Refresh: refreshSeconds, Data: data})
}

func (v *viewer) tracePage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	tr, ok := v.store.Trace(id)
	if !ok {
		v.notFound(w, "Trace "+id+" is not here. Spans reach the viewer a few seconds after the request "+
			"(the SDK exports in batches), and only the most recent traces are kept.")
		return
	}
	wf := v.layout(tr)
	v.render(w, http.StatusOK, "trace", page{Heading: wf.Root.Name, Nav: "traces", Data: wf})
}
