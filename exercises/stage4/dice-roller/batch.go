package main

import (
	"context"
	"errors"
	"fmt"

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
				return &rollFailure{index: i, err: err}
			}
			if err != nil { // cancelled: another roll failed, or the client left
				// exercise 4.1: begin
				// TODO (exercise 4.1): Roll a batch concurrently — read step 4.1 (workshop show 4 1); hints: workshop hint 4.1
				// exercise 4.1: end
				return err
			}

			// exercise 4.4: begin
			// TODO (exercise 4.4): Metrics for the async batches — read step 4.4 (workshop show 4 4); hints: workshop hint 4.4
			// exercise 4.4: end
			// exercise 4.1: begin
			// TODO (exercise 4.1): Roll a batch concurrently — read step 4.1 (workshop show 4 1); hints: workshop hint 4.1
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
