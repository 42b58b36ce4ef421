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
			// exercise 4.1: begin
			// The span starts from the request's ctx (through errgroup's): it is
			// a child of GET /roll-async, and a sibling of the other rolls.
			// context.Background() here would orphan it in a trace of its own.
			ctx, span := s.tracer.Start(ctx, fmt.Sprintf("async_roll_%d", i),
				trace.WithAttributes(attribute.Int("async.roll_index", i)))
			defer span.End()
			// exercise 4.1: end

			// exercise 4.4: begin
			s.metrics.asyncInProgress.Inc()
			defer s.metrics.asyncInProgress.Dec()
			// exercise 4.4: end

			value, err := s.roller.roll(ctx, spec)
			if errors.Is(err, errRollFailed) {
				// exercise 4.4: begin
				s.metrics.asyncRolls.WithLabelValues(die, resultError).Inc()
				// exercise 4.4: end
				// exercise 4.1: begin
				span.SetAttributes(attribute.Bool("die.error", true))
				span.SetStatus(codes.Error, err.Error())
				// exercise 4.1: end
				return &rollFailure{index: i, err: err}
			}
			if err != nil { // cancelled: another roll failed, or the client left
				// exercise 4.1: begin
				span.SetStatus(codes.Error, "cancelled: "+err.Error())
				// exercise 4.1: end
				return err
			}

			// exercise 4.4: begin
			s.metrics.asyncRolls.WithLabelValues(die, resultSuccess).Inc()
			// exercise 4.4: end
			// exercise 4.1: begin
			span.SetAttributes(attribute.Int("die.result", value), attribute.Bool("die.error", false))
			// exercise 4.1: end
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
