package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKnownDice(t *testing.T) {
	d := knownDice()
	assert.Equal(t, []string{"fair", "risky"}, d.identifiers())
	assert.Equal(t, Die{Faces: []int{1, 2, 3, 4, 5, 6}, ErrorRate: 0}, d["fair"])
	assert.Equal(t, Die{Faces: []int{2, 3, 4, 5, 6, 7}, ErrorRate: 0.1}, d["risky"])
	// Every face fits a bucket of dice_roll_value (1..8).
	for id, spec := range d {
		for _, f := range spec.Faces {
			assert.True(t, f >= 1 && f <= 8, "die %s face %d", id, f)
		}
	}

	d["fair"].Faces[0] = 99
	assert.Equal(t, 1, knownDice()["fair"].Faces[0], "each server gets its own copy")
}

func TestLookup(t *testing.T) {
	spec, err := knownDice().lookup("risky")
	require.NoError(t, err)
	assert.Equal(t, 0.1, spec.ErrorRate)

	_, err = knownDice().lookup("loaded")
	assert.EqualError(t, err, `unknown die "loaded"; valid: fair, risky`)
}
