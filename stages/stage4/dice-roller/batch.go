package main

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
)

// rollFailure says which roll of a batch failed.
type rollFailure struct {
	index int
	err   error
}

func (f *rollFailure) Error() string { return fmt.Sprintf("roll %d: %v", f.index, f.err) }

// rollBatch rolls `times` dice at once, one goroutine each, so the batch takes
// about as long as its slowest roll. The first failed roll cancels the others.
func (s *server) rollBatch(ctx context.Context, die string, spec Die, times int) ([]int, error) {
	rolls := make([]int, times)
	g, ctx := errgroup.WithContext(ctx)
	for i := range times {
		g.Go(func() error {
			// The span starts from the request's ctx (through errgroup's): it is
			// a child of GET /roll-async, and a sibling of the other rolls.
			// context.Background() here would orphan it in a trace of its own.
			ctx, span := s.tracer.Start(ctx, fmt.Sprintf("async_roll_%d", i),
				trace.WithAttributes(attribute.Int("async.roll_index", i)))
			defer span.End()

			s.metrics.asyncInProgress.Inc()
			defer s.metrics.asyncInProgress.Dec()

			value, err := s.roller.roll(ctx, spec)
			if errors.Is(err, errRollFailed) {
				s.metrics.asyncRolls.WithLabelValues(die, resultError).Inc()
				span.SetAttributes(attribute.Bool("die.error", true))
				span.SetStatus(codes.Error, err.Error())
				return &rollFailure{index: i, err: err}
			}
			if err != nil { // cancelled: another roll failed, or the client left
				span.SetStatus(codes.Error, "cancelled: "+err.Error())
				return err
			}

			s.metrics.asyncRolls.WithLabelValues(die, resultSuccess).Inc()
			span.SetAttributes(attribute.Int("die.result", value), attribute.Bool("die.error", false))
			s.log.InfoContext(ctx, "async roll completed", "die_type", die, "roll_index", i, "roll_value", value)
			rolls[i] = value
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return rolls, nil
}
