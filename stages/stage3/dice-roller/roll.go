package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Die is a die: the faces it can show and how often a roll fails.
type Die struct {
	Faces     []int   `json:"faces"`
	ErrorRate float64 `json:"error_rate"`
}

// errRollFailed is the designed failure of a die with an error rate.
var errRollFailed = errors.New("the die rolled off the table")

// roller rolls dice. Randomness is injected so tests can force an outcome.
type roller struct {
	maxDelay  time.Duration
	randFloat func() float64  // uniform in [0, 1): the delay factor and the failure draw
	randIndex func(n int) int // uniform in [0, n): the face shown
}

func newRoller(maxDelay time.Duration) roller {
	return roller{maxDelay: maxDelay, randFloat: rand.Float64, randIndex: rand.IntN}
}

// roll waits a random delay in [0, maxDelay), then fails with the die's error
// rate or shows one of its faces. The wait ends early, with ctx's error, when
// the request is cancelled: nobody is waiting for the answer any more.
func (r roller) roll(ctx context.Context, d Die) (int, error) {
	if err := sleep(ctx, time.Duration(r.randFloat()*float64(r.maxDelay))); err != nil {
		return 0, err
	}
	if r.randFloat() < d.ErrorRate {
		return 0, errRollFailed
	}
	return d.Faces[r.randIndex(len(d.Faces))], nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
