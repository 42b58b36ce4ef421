package viewer_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/viewer"
)

// diceRollerMetrics is a dice-roller's /metrics after a few requests, in
// the text format client_golang writes.
const diceRollerMetrics = `# HELP async_rolls_total Async rolls, by die and result.
# TYPE async_rolls_total counter
async_rolls_total{die_type="fair",result="success"} 10
async_rolls_total{die_type="risky",result="error"} 1
# HELP async_rolls_in_progress Rolls running right now.
# TYPE async_rolls_in_progress gauge
async_rolls_in_progress 0
# HELP async_roll_batch_size Rolls per async request.
# TYPE async_roll_batch_size histogram
async_roll_batch_size_bucket{le="1"} 0
async_roll_batch_size_bucket{le="5"} 2
async_roll_batch_size_bucket{le="20"} 3
async_roll_batch_size_bucket{le="+Inf"} 3
async_roll_batch_size_sum 20
async_roll_batch_size_count 3
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 12
`

func TestMetricsPageShowsEachServiceAndWhichAreDown(t *testing.T) {
	var accept string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept = r.Header.Get("Accept")
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(diceRollerMetrics))
	}))
	defer up.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "oops", http.StatusInternalServerError)
	}))
	defer broken.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL + "/metrics"
	down.Close() // nothing listens there any more

	h := viewer.New(otlp.NewStore(otlp.Limits{}), viewer.Options{Title: "Stage 4", Metrics: map[string]string{
		"dice-roller": up.URL + "/metrics",
		"die-service": downURL,
		"frontend":    broken.URL + "/metrics",
	}})
	code, body := get(t, h, "/metrics")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, accept, "text/plain", "asks for the text format")
	assert.Contains(t, body, refreshMeta)

	assert.Contains(t, body, "<code>async_rolls_total</code> <span class=\"type\">counter</span>")
	assert.Contains(t, body, "Async rolls, by die and result.")
	assert.Contains(t, body, `{die_type=&#34;fair&#34;, result=&#34;success&#34;}</td>`)
	assert.Contains(t, body, `<td class="num value">10</td>`)
	assert.Contains(t, body, "<code>async_rolls_in_progress</code> <span class=\"type\">gauge</span>")
	assert.Contains(t, body, "<td class=\"num\">count 3</td><td class=\"num\">sum 20</td>", "histograms summarised")
	assert.Contains(t, body, "<span>≤5: 2</span>")
	assert.Contains(t, body, "<span>≤&#43;Inf: 3</span>")
	assert.NotContains(t, body, "go_goroutines", "runtime metrics are hidden by default")
	assert.Contains(t, body, "1 Go runtime metric family hidden")

	assert.Contains(t, body, "<strong>die-service is down</strong> — cannot reach "+downURL+": dial tcp")
	assert.Contains(t, body, "<strong>frontend is down</strong>")
	assert.Contains(t, body, "500 Internal Server Error")

	_, body = get(t, h, "/metrics?all=1")
	assert.Contains(t, body, "<code>go_goroutines</code>")
}

func TestMetricsPageDoesNotWaitForAHangingService(t *testing.T) {
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answers only once the scrape has given up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hanging.Close()
	defer close(release)

	h := viewer.New(otlp.NewStore(otlp.Limits{}), viewer.Options{
		ScrapeTimeout: 50 * time.Millisecond,
		Metrics:       map[string]string{"dice-roller": hanging.URL + "/metrics"},
	})
	code, body := get(t, h, "/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<strong>dice-roller is down</strong> — no answer from "+hanging.URL+"/metrics within 50ms")
}

func TestMetricsPageWithoutServices(t *testing.T) {
	_, body := get(t, viewer.New(otlp.NewStore(otlp.Limits{}), viewer.Options{}), "/metrics")
	assert.Contains(t, body, "No services to scrape")
}
