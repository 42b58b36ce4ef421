package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTrafficRefusesBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"traffic"}, "one stage"},
		{[]string{"traffic", "2", "--async-probability", "0.5"}, "stage 4"},
		{[]string{"traffic", "1", "--max-async-rolls", "3"}, "stage 4"},
		{[]string{"traffic", "4", "--users", "0"}, "--users 0"},
		{[]string{"traffic", "4", "--async-probability", "2"}, "from 0 to 1"},
		{[]string{"traffic", "4", "--max-async-rolls", "21"}, "1 to 20"},
		{[]string{"traffic", "9"}, "stage"},
	} {
		var out, errb bytes.Buffer
		code := Main(tt.args, &Env{Stdout: &out, Stderr: &errb, Dir: t.TempDir()})
		assert.Equal(t, 2, code, "%v: %s", tt.args, errb.String())
		assert.Contains(t, errb.String(), tt.want, "%v", tt.args)
	}
}

func TestTrafficSendsRollsAndSummarizes(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		_, _ = w.Write([]byte(`{"roll":4}`))
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	code := Main([]string{"traffic", "4", "--url", srv.URL, "--users", "3", "--max-rolls", "2"}, &Env{Stdout: &out, Stderr: &errb, Dir: t.TempDir()})
	assert.Equal(t, 0, code, errb.String())
	assert.Contains(t, out.String(), "requests in")
	assert.Contains(t, out.String(), "p99")
	assert.NotContains(t, out.String(), "\r", "no progress line when not a terminal")
	assert.Positive(t, n.Load())
}
