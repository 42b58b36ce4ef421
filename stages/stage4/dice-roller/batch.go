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
	// exercise 4.1: begin
	// exercise 4.1: stub: // One roll after the other: the batch takes the sum of the delays.
	// exercise 4.1: stub: rolls := make([]int, times)
	// exercise 4.1: stub: for i := range times {
	// exercise 4.1: stub: value, err := s.rollOne(ctx, die, spec, i)
	// exercise 4.1: stub: if err != nil {
	// exercise 4.1: stub: return nil, err
	// exercise 4.1: stub: }
	// exercise 4.1: stub: rolls[i] = value
	// exercise 4.1: stub: }
	// exercise 4.1: stub: return rolls, nil
	rolls := make([]int, times)
	// The group's ctx is derived from the request's: it carries the server
	// span to every roll, and is cancelled by the first roll that fails.
	g, ctx := errgroup.WithContext(ctx)
	for i := range times {
		g.Go(func() error {
			value, err := s.rollOne(ctx, die, spec, i)
			rolls[i] = value // each goroutine writes only its own slot: no lock
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return rolls, nil
	// exercise 4.1: end
}

// rollOne rolls the i-th die of a batch, in a child span of its own.
func (s *server) rollOne(ctx context.Context, die string, spec Die, i int) (int, error) {
	// exercise 4.1: begin
	// The span starts from the ctx rollBatch passed, the request's: it is a
	// child of GET /roll-async, and a sibling of the other rolls.
	// context.Background() here would orphan it in a trace of its own.
	ctx, span := s.tracer.Start(ctx, fmt.Sprintf("async_roll_%d", i),
		trace.WithAttributes(attribute.Int("async.roll_index", i)))
	defer span.End()
	// exercise 4.1: end

	// exercise 4.4: begin
	s.metrics.asyncInProgress.Inc()
	defer s.metrics.asyncInProgress.Dec() // whichever way the roll ends
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
		return 0, &rollFailure{index: i, err: err}
	}
	if err != nil { // cancelled: another roll failed, or the client left
		// exercise 4.1: begin
		span.SetStatus(codes.Error, "cancelled: "+err.Error())
		// exercise 4.1: end
		return 0, err
	}

	// exercise 4.4: begin
	s.metrics.asyncRolls.WithLabelValues(die, resultSuccess).Inc()
	// exercise 4.4: end
	// exercise 4.1: begin
	span.SetAttributes(attribute.Int("die.result", value), attribute.Bool("die.error", false))
	// exercise 4.1: end
	s.log.InfoContext(ctx, "async roll completed", "die_type", die, "roll_index", i, "roll_value", value)
	return value, nil
}
