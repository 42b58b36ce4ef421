package bench

import (
	"bytes"
	"encoding/json"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

func TestTheoreticalSpeedup(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want float64
	}{{10, 5.5}, {1, 1}, {2, 1.5}, {20, 10.5}, {0, 0}} {
		assert.InDelta(t, tt.want, TheoreticalSpeedup(tt.n), 1e-12, "n=%d", tt.n)
	}
}

func TestMedian(t *testing.T) {
	in := []float64{5, 1, 3}
	assert.Equal(t, 3.0, Median(in))
	assert.Equal(t, []float64{5, 1, 3}, in, "the input is not sorted in place")
	assert.Equal(t, 2.5, Median([]float64{4, 1, 2, 3}))
	assert.Equal(t, 0.0, Median(nil))
}

func TestSummarizeSyncAsync(t *testing.T) {
	sa := Summarize(10, []Round{
		{SyncMS: 1000, AsyncMS: 200}, // 5×
		{SyncMS: 1100, AsyncMS: 200}, // 5.5×
		{SyncMS: 1200, AsyncMS: 100}, // 12×
	})
	assert.Equal(t, 1100.0, sa.SyncMedianMS)
	assert.Equal(t, 200.0, sa.AsyncMedianMS)
	assert.Equal(t, 5.5, sa.Speedup, "the median of the rounds' speedups")
	assert.Equal(t, 5.5, sa.TheoreticalLimit)
	assert.InDelta(t, 1.0, sa.RatioToLimit, 1e-12)
	assert.InDelta(t, 12.0, sa.Rounds[2].Speedup, 1e-12)
}

func TestOverheadPercent(t *testing.T) {
	assert.InDelta(t, 25.0, OverheadPercent(1000, 800), 1e-9, "1.25 ms instead of 1 ms per request")
	assert.InDelta(t, 0.0, OverheadPercent(1000, 1000), 1e-9)
	assert.InDelta(t, -10.0, OverheadPercent(900, 1000), 1e-9, "noise can make it negative")
	assert.Equal(t, 0.0, OverheadPercent(1000, 0))
}

func TestLoadFrom(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := LoadFrom(ds, 0, 2*time.Second)
	assert.Equal(t, 100, l.Requests)
	assert.Equal(t, 50.0, l.ThroughputRPS)
	assert.Equal(t, 50.0, l.P50MS)
	assert.Equal(t, 99.0, l.P99MS)
	assert.Equal(t, 101, LoadFrom(ds, 1, time.Second).Requests, "failed requests count in the throughput")
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tdice-roller\nVmPeak:\t 1000 kB\nVmRSS:\t   14848 kB\nThreads:\t7\n"
	assert.Equal(t, int64(14848), parseVmRSS(status))
	assert.Equal(t, int64(-1), parseVmRSS("Name:\tx\n"))
}

func TestWriteTableSaysWhatDoesNotApply(t *testing.T) {
	rep := &Report{Stage: 2, Machine: Machine{OS: "darwin", Arch: "arm64", CPUs: 8, GoVersion: "go1.26"},
		Overhead:  &Overhead{Clients: 4, Telemetry: Load{Requests: 10, ThroughputRPS: 900}, Disabled: Load{Requests: 10, ThroughputRPS: 1000}, Percent: 11.1},
		Footprint: &Footprint{Services: []ServiceFootprint{{Service: "dice-roller", BinaryBytes: 20 << 20, RSSIdleKB: -1, RSSLoadedKB: -1}}},
		Notes:     []string{"sync vs async: stage 2 has no /roll-async (stage 4 adds it); skipped"}}
	var b bytes.Buffer
	WriteTable(&b, rep)
	assert.NotContains(t, b.String(), "Sync vs async (")
	assert.Contains(t, b.String(), "n/a")
	assert.Contains(t, b.String(), "stage 4 adds it")
	assert.Contains(t, b.String(), "+11.1%")
}

// TestBenchStage4Smoke runs the real thing once, briefly: it checks the
// shape of the report, never how fast this machine is.
func TestBenchStage4Smoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 4 three times")
	}
	root, err := repo.Root(".")
	require.NoError(t, err)
	rep, err := Run(t.Context(), Options{Dir: repo.StageDir(root, 4), Stage: 4, Repeat: 1, Requests: 200})
	require.NoError(t, err)

	require.NotNil(t, rep.SyncAsync)
	require.Len(t, rep.SyncAsync.Rounds, 1)
	assert.Positive(t, rep.SyncAsync.SyncMedianMS)
	assert.Positive(t, rep.SyncAsync.AsyncMedianMS)
	assert.Positive(t, rep.SyncAsync.Speedup)
	assert.Equal(t, 5.5, rep.SyncAsync.TheoreticalLimit)
	require.NotNil(t, rep.Overhead)
	assert.Positive(t, rep.Overhead.Telemetry.ThroughputRPS)
	assert.Positive(t, rep.Overhead.Disabled.ThroughputRPS)
	assert.Positive(t, rep.Overhead.OTLPRequests, "the services exported to the sink")
	require.NotNil(t, rep.Footprint)
	require.Len(t, rep.Footprint.Services, 3)
	for _, s := range rep.Footprint.Services {
		assert.Positive(t, s.BinaryBytes, s.Service)
		if goruntime.GOOS == "linux" {
			assert.Positive(t, s.RSSIdleKB, s.Service)
			assert.Positive(t, s.RSSLoadedKB, s.Service)
		} else {
			assert.Equal(t, int64(-1), s.RSSIdleKB, "n/a off Linux")
		}
	}

	var table bytes.Buffer
	WriteTable(&table, rep)
	for _, section := range []string{"Sync vs async", "theoretical limit", "Instrumentation overhead", "Footprint"} {
		assert.Contains(t, table.String(), section)
	}
	var js bytes.Buffer
	require.NoError(t, WriteJSON(&js, rep))
	var back map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	for _, key := range []string{"stage", "machine", "sync_async", "overhead", "footprint"} {
		assert.Contains(t, back, key)
	}
}
