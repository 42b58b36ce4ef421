package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// diceTable is the dice-roller's own list of dice. Stage 2 hard-codes it;
// stage 3 moves it into the die-service, which the dice-roller then asks.
type diceTable map[string]Die

// knownDice are the dice this dice-roller can roll.
var knownDice = diceTable{
	"fair":  {Faces: []int{1, 2, 3, 4, 5, 6}, ErrorRate: 0},
	"risky": {Faces: []int{2, 3, 4, 5, 6, 7}, ErrorRate: 0.1},
}

// unknownDieError says the die is not in the table (the caller's mistake, 400).
type unknownDieError struct {
	die   string
	valid []string
}

func (e *unknownDieError) Error() string {
	return fmt.Sprintf("unknown die %q; valid: %s", e.die, strings.Join(e.valid, ", "))
}

// lookup finds a die's specification in the table.
func (d diceTable) lookup(die string) (Die, error) {
	spec, ok := d[die]
	if !ok {
		return Die{}, &unknownDieError{die: die, valid: d.names()}
	}
	return spec, nil
}

// names lists the dice, sorted, for error messages.
func (d diceTable) names() []string {
	return slices.Sorted(maps.Keys(d))
}
