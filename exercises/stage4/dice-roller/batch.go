package main

import (
	"context"
	"errors"
	"fmt"
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
	// TODO (exercise 4.1): Roll a batch concurrently — read step 4.1 (workshop show 4 1); hints: workshop hint 4.1
	// One roll after the other: the batch takes the sum of the delays.
	rolls := make([]int, times)
	for i := range times {
		value, err := s.rollOne(ctx, die, spec, i)
		if err != nil {
			return nil, err
		}
		rolls[i] = value
	}
	return rolls, nil
	// exercise 4.1: end
}

// rollOne rolls the i-th die of a batch, in a child span of its own.
func (s *server) rollOne(ctx context.Context, die string, spec Die, i int) (int, error) {
	// exercise 4.1: begin
	// TODO (exercise 4.1): Roll a batch concurrently — read step 4.1 (workshop show 4 1); hints: workshop hint 4.1
	// exercise 4.1: end

	// exercise 4.4: begin
	// TODO (exercise 4.4): Metrics for the async batches — read step 4.4 (workshop show 4 4); hints: workshop hint 4.4
	// exercise 4.4: end

	value, err := s.roller.roll(ctx, spec)
	if errors.Is(err, errRollFailed) {
		// exercise 4.4: begin
		// TODO (exercise 4.4): Metrics for the async batches — read step 4.4 (workshop show 4 4); hints: workshop hint 4.4
		// exercise 4.4: end
		// exercise 4.1: begin
		// TODO (exercise 4.1): Roll a batch concurrently — read step 4.1 (workshop show 4 1); hints: workshop hint 4.1
		// exercise 4.1: end
		return 0, &rollFailure{index: i, err: err}
	}
	if err != nil { // cancelled: another roll failed, or the client left
		// exercise 4.1: begin
		// TODO (exercise 4.1): Roll a batch concurrently — read step 4.1 (workshop show 4 1); hints: workshop hint 4.1
		// exercise 4.1: end
		return 0, err
	}

	// exercise 4.4: begin
	// TODO (exercise 4.4): Metrics for the async batches — read step 4.4 (workshop show 4 4); hints: workshop hint 4.4
	// exercise 4.4: end
	// exercise 4.1: begin
	// TODO (exercise 4.1): Roll a batch concurrently — read step 4.1 (workshop show 4 1); hints: workshop hint 4.1
	// exercise 4.1: end
	s.log.InfoContext(ctx, "async roll completed", "die_type", die, "roll_index", i, "roll_value", value)
	return value, nil
}
