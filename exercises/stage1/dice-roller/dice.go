package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// dice are the dice this service can roll, by identifier. In stage 1 they are
// written here; stage 3 moves them into a service of their own.
type dice map[string]Die

// knownDice: fair shows 1 to 6 and never fails; risky is a fair die plus one
// (2 to 7) that rolls off the table once in ten rolls.
func knownDice() dice {
	return dice{
		"fair":  {Faces: []int{1, 2, 3, 4, 5, 6}, ErrorRate: 0},
		"risky": {Faces: []int{2, 3, 4, 5, 6, 7}, ErrorRate: 0.1},
	}
}

// unknownDieError says the die is not one of ours (the caller's mistake, 400).
type unknownDieError struct {
	die   string
	valid []string
}

func (e *unknownDieError) Error() string {
	return fmt.Sprintf("unknown die %q; valid: %s", e.die, strings.Join(e.valid, ", "))
}

// lookup finds a die by its identifier.
func (d dice) lookup(die string) (Die, error) {
	if spec, ok := d[die]; ok {
		return spec, nil
	}
	return Die{}, &unknownDieError{die: die, valid: d.identifiers()}
}

// identifiers lists the dice, sorted: the valid values of the die parameter.
func (d dice) identifiers() []string {
	return slices.Sorted(maps.Keys(d))
}
