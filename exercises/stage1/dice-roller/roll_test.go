package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRollerWaitsAtMostMaxDelay(t *testing.T) {
	r := newRoller(50 * time.Millisecond)
	r.randFloat = func() float64 { return 0.99 } // the longest delay, and no failure
	start := time.Now()
	v, err := r.roll(context.Background(), knownDice()["fair"])
	require.NoError(t, err)
	assert.Contains(t, []int{1, 2, 3, 4, 5, 6}, v)
	assert.GreaterOrEqual(t, time.Since(start), 45*time.Millisecond)
	assert.Less(t, time.Since(start), time.Second)
}

func TestRollerStopsWhenTheContextEnds(t *testing.T) {
	r := newRoller(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.roll(ctx, knownDice()["fair"])
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)

	done, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	r.maxDelay = 0
	_, err = r.roll(done, knownDice()["fair"])
	assert.ErrorIs(t, err, context.Canceled, "an already cancelled request is not rolled, even without a delay")
}

func TestRollerErrorRate(t *testing.T) {
	tests := []struct {
		name string
		draw float64
		die  string
		fail bool
	}{
		{name: "risky, draw below 0.1 fails", draw: 0.0999, die: "risky", fail: true},
		{name: "risky, draw at 0.1 succeeds", draw: 0.1, die: "risky", fail: false},
		{name: "fair, lowest draw succeeds", draw: 0, die: "fair", fail: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRoller(0)
			r.randFloat = func() float64 { return tt.draw }
			_, err := r.roll(context.Background(), knownDice()[tt.die])
			if tt.fail {
				assert.ErrorIs(t, err, errRollFailed)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}
