// Package viewer is the built-in telemetry viewer of `workshop up`: a few
// server-rendered pages over the otlp.Store (recent traces, a trace's
// waterfall, each service's logs) and the services' current metrics. It
// needs no JavaScript and no build step, so it works wherever Go does.
package viewer

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the viewer.
// DefaultPort is where `workshop up` serves the viewer, on localhost.
const DefaultPort = 8190

type Options struct {
	// Title names what is being viewed, e.g. "Stage 4".
	Title string
	// Metrics maps each service's name to its Prometheus /metrics URL,
	// scraped when the metrics page is opened.
	Metrics map[string]string
	// ScrapeTimeout bounds one service's /metrics fetch, so a service that
	// hangs cannot hold the page (default DefaultScrapeTimeout).
	ScrapeTimeout time.Duration
	// Client scrapes the metrics; nil means http.DefaultClient.
	Client *http.Client
	// BasePath is the path the viewer is served under when it is not the
	// root (the class server mounts one viewer per learner under
	// /learners/ID/telemetry, with http.StripPrefix): its links start there.
	BasePath string
	// Back, when set, is a link shown in the top bar to where the viewer
	// was opened from (the class board).
	Back *Link
}

// Link is a labelled URL.
type Link struct{ Label, URL string }

// DefaultScrapeTimeout is the ScrapeTimeout of zero Options.
const DefaultScrapeTimeout = 2 * time.Second

// refreshSeconds is how often the list pages reload themselves. The trace
// page does not: it would close the span details being read.
const refreshSeconds = 5

type viewer struct {
	store  *otlp.Store
	opts   Options
	colors palette
	pages  map[string]*template.Template
}

// New returns the viewer's handler: / (recent traces), /trace/{id} (the
// waterfall), /logs, /metrics, and the stylesheet under /static/.
func New(store *otlp.Store, opts Options) http.Handler {
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = DefaultScrapeTimeout
	}
	if opts.Client == nil {
		opts.Client = http.DefaultClient
	}
	v := &viewer{store: store, opts: opts, colors: newPalette(slices.Collect(maps.Keys(opts.Metrics)))}
	v.pages = v.parsePages()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", v.tracesPage)
	mux.HandleFunc("GET /trace/{id}", v.tracePage)
	mux.HandleFunc("GET /logs", v.logsPage)
	mux.HandleFunc("GET /metrics", v.metricsPage)
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		v.notFound(w, "There is no page at "+r.URL.Path+".")
	})
	return mux
}

func (v *viewer) parsePages() map[string]*template.Template {
	pages := map[string]*template.Template{}
	for _, name := range []string{"traces", "trace", "logs", "metrics", "notfound"} {
		pages[name] = template.Must(template.New(name).Funcs(v.funcs()).
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

// page is what the layout needs, around each page's own data.
type page struct {
	Title   string // the viewer's title, e.g. "Stage 4"
	Heading string // this page's
	Nav     string // which nav entry is current
	Refresh int    // seconds; 0 for none
	Back    *Link  // Options.Back
	LetGo   string // what the store dropped, refused or cut; "" for nothing
	Data    any
}

// render executes the page into a buffer first, so a template error is a
// clean 500 rather than half a page.
func (v *viewer) render(w http.ResponseWriter, status int, name string, p page) {
	p.Title, p.Back = v.opts.Title, v.opts.Back
	p.LetGo = letGo(v.store.Stats(), v.store.Limits())
	var buf bytes.Buffer
	if err := v.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		slog.Error("viewer: rendering a page", "page", name, "error", err)
		http.Error(w, "the viewer failed to render this page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (v *viewer) notFound(w http.ResponseWriter, msg string) {
	v.render(w, http.StatusNotFound, "notfound", page{Heading: "Not found", Data: msg})
}

// letGo says, for the top of every page, what the store let go of to stay
// within its bounds, so a missing trace or a cut value is never a mystery.
func letGo(st otlp.Stats, l otlp.Limits) string {
	if !st.LetGo() {
		return ""
	}
	var parts []string
	if st.EvictedTraces > 0 {
		parts = append(parts, fmt.Sprintf("%d older traces let go (the store keeps %d; the sender holding the most loses its oldest first)", st.EvictedTraces, l.MaxTraces))
	}
	if st.RejectedSpans > 0 {
		parts = append(parts, fmt.Sprintf("%d spans refused (more than %d spans in one trace, %d in one request, or %d new traces in one request)",
			st.RejectedSpans, l.MaxSpansPerTrace, l.MaxSpansPerRequest, l.MaxNewTracesPerRequest))
	}
	if st.TruncatedValues > 0 {
		parts = append(parts, fmt.Sprintf("%d values cut to %d KB (log lines to %d KB), marked %s", st.TruncatedValues, l.MaxValueBytes>>10, l.MaxLogLineBytes>>10, otlp.TruncatedMark))
	}
	if st.DroppedLogs > 0 {
		parts = append(parts, fmt.Sprintf("%d older log lines let go (the store keeps %d per service)", st.DroppedLogs, l.MaxLogsPerService))
	}
	return "To stay within its bounds (" + strconv.Itoa(l.MaxBytes>>20) + " MB), this viewer let go of data: " + strings.Join(parts, "; ") + "."
}
