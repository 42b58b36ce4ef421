package cli

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

func TestBenchRefusesBadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"bench"}, "one stage"},
		{[]string{"bench", "4", "--repeat", "0"}, "--repeat 0"},
		{[]string{"bench", "4", "--requests", "1"}, "--requests 1"},
		{[]string{"bench", "7"}, "stage"},
	} {
		var out, errb bytes.Buffer
		code := Main(tt.args, &Env{Stdout: &out, Stderr: &errb, Dir: t.TempDir()})
		assert.Equal(t, 2, code, "%v: %s", tt.args, errb.String())
		assert.Contains(t, errb.String(), tt.want, "%v", tt.args)
	}
}

// TestBench4Smoke runs `workshop bench 4 --repeat 1` for real and checks the
// table has its sections and positive numbers (never how fast they are).
func TestBench4Smoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 4 three times")
	}
	root, err := repo.Root(".")
	require.NoError(t, err)
	var out, errb bytes.Buffer
	code := Main([]string{"bench", "4", "--repeat", "1", "--requests", "200"}, &Env{Stdout: &out, Stderr: &errb, Dir: root})
	require.Equal(t, 0, code, errb.String())
	s := out.String()
	for _, section := range []string{"Sync vs async", "theoretical limit", "= 5.50×", "Instrumentation overhead", "Footprint", "dice-roller", "die-service", "frontend"} {
		assert.Contains(t, s, section)
	}
	m := regexp.MustCompile(`median\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)×`).FindStringSubmatch(s)
	require.Len(t, m, 4, s)
	for _, v := range m[1:] {
		f, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err)
		assert.Positive(t, f)
	}
	rps := regexp.MustCompile(`(?m)^  (?:off|on) \(.*?\)\s+(\d+)`).FindAllStringSubmatch(s, -1)
	require.Len(t, rps, 2, s)
	for _, r := range rps {
		f, _ := strconv.ParseFloat(r[1], 64)
		assert.Positive(t, f, "throughput")
	}
}
