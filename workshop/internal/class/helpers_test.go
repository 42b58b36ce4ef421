package class

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
)

// Every test of the package leaves no goroutine behind: servers, live
// streams, sharers and simulated rooms all stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testClass is a class server on a loopback port, stopped and closed at
// the end of the test.
type testClass struct {
	*Server
	URL    string
	client *http.Client
	stop   func()
}

func startClass(t *testing.T, o Options) *testClass {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	srv, err := New(o)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	tc := &testClass{Server: srv, URL: "http://" + ln.Addr().String(), client: &http.Client{Timeout: 10 * time.Second}}
	var once sync.Once
	tc.stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-served)
			require.NoError(t, srv.Close())
			tc.client.CloseIdleConnections()
		})
	}
	t.Cleanup(tc.stop)
	return tc
}

// answer is an HTTP response, read.
type answer struct {
	status int
	body   string
	header http.Header
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(a.body), v), a.body)
}

func (a answer) errorText(t *testing.T) string {
	t.Helper()
	var e struct{ Error string }
	a.json(t, &e)
	return e.Error
}

func (tc *testClass) do(t *testing.T, method, path, token string, body []byte, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, tc.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := tc.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{resp.StatusCode, string(b), resp.Header}
}

func (tc *testClass) get(t *testing.T, path string) answer {
	return tc.do(t, http.MethodGet, path, "", nil)
}

func (tc *testClass) join(t *testing.T, name string) JoinResponse {
	t.Helper()
	a := tc.tryJoin(t, JoinRequest{Code: tc.Code(), Name: name})
	require.Equal(t, http.StatusCreated, a.status, a.body)
	var r JoinResponse
	a.json(t, &r)
	return r
}

func (tc *testClass) tryJoin(t *testing.T, req JoinRequest) answer {
	t.Helper()
	b, err := json.Marshal(req)
	require.NoError(t, err)
	return tc.do(t, http.MethodPost, "/api/join", "", b)
}

func (tc *testClass) post(t *testing.T, token string, result []byte, age time.Duration) answer {
	t.Helper()
	b, err := json.Marshal(Post{AgeMS: age.Milliseconds(), Result: result})
	require.NoError(t, err)
	return tc.do(t, http.MethodPost, "/api/results", token, b)
}

// result is a check JSON of stage n: the checks are "key@step" and pass,
// or "!key@step" and fail.
func result(n int, checks ...string) []byte {
	j := check.JSON{Schema: check.JSONSchema, Stage: n, Dir: "exercises/stage" + string(rune('0'+n)), Runtime: "local", DurationMS: 3200, Checks: []check.JSONCheck{}}
	for _, c := range checks {
		failed := strings.HasPrefix(c, "!")
		key, step, _ := strings.Cut(strings.TrimPrefix(c, "!"), "@")
		jc := check.JSONCheck{ID: key, Title: "Title of " + key, Status: "pass", Step: step}
		if failed {
			jc.Status, jc.Expected, jc.Seen, jc.Hint = "fail", "what "+key+" wants", "what was seen", "the hint of "+key
		}
		j.Checks = append(j.Checks, jc)
	}
	b, _ := json.Marshal(j)
	return b
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
