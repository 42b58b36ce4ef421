package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	fair  = Die{Faces: []int{1, 2, 3, 4, 5, 6}, ErrorRate: 0}
	risky = Die{Faces: []int{2, 3, 4, 5, 6, 7}, ErrorRate: 0.1}
)

// fixedRoller always draws chance from randFloat and index from randIndex.
func fixedRoller(maxDelay time.Duration, chance float64, index int) roller {
	return roller{
		maxDelay:  maxDelay,
		randFloat: func() float64 { return chance },
		randIndex: func(int) int { return index },
	}
}

func TestRollShowsAFace(t *testing.T) {
	tests := []struct {
		name   string
		die    Die
		chance float64
		index  int
		want   int
	}{
		{name: "fair first face", die: fair, chance: 0.5, index: 0, want: 1},
		{name: "fair last face", die: fair, chance: 0.5, index: 5, want: 6},
		{name: "risky shifted faces", die: risky, chance: 0.5, index: 0, want: 2},
		{name: "risky highest face", die: risky, chance: 0.5, index: 5, want: 7},
		{name: "risky just above its error rate", die: risky, chance: 0.1, index: 2, want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fixedRoller(0, tt.chance, tt.index).roll(t.Context(), tt.die)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRollFailsWithTheErrorRate(t *testing.T) {
	_, err := fixedRoller(0, 0.09, 0).roll(t.Context(), risky)
	require.ErrorIs(t, err, errRollFailed)

	_, err = fixedRoller(0, 0, 0).roll(t.Context(), fair)
	require.NoError(t, err, "an error rate of 0 never fails")

	_, err = fixedRoller(0, 0.999, 0).roll(t.Context(), Die{Faces: []int{1}, ErrorRate: 1})
	require.ErrorIs(t, err, errRollFailed, "an error rate of 1 always fails")
}

func TestRealRandomnessStaysOnTheFaces(t *testing.T) {
	r := newRoller(0)
	seen := map[int]bool{}
	for range 600 {
		v, err := r.roll(t.Context(), fair)
		require.NoError(t, err)
		require.Contains(t, fair.Faces, v)
		seen[v] = true
	}
	assert.Len(t, seen, 6, "600 rolls of a fair die show every face")
}

func TestRollWaitsItsDelay(t *testing.T) {
	start := time.Now()
	_, err := fixedRoller(100*time.Millisecond, 0.5, 0).roll(t.Context(), fair)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "chance 0.5 of a 100ms max delay")
}

func TestRollStopsWhenTheRequestIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)

	start := time.Now()
	_, err := fixedRoller(time.Hour, 0.5, 0).roll(ctx, fair)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 5*time.Second, "the delay ends with the request")

	_, err = fixedRoller(0, 0.5, 0).roll(ctx, fair)
	require.ErrorIs(t, err, context.Canceled, "a cancelled request is not rolled, even with no delay")
}
