package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTheHardCodedDice(t *testing.T) {
	assert.Equal(t, diceTable{
		"fair":  {Faces: []int{1, 2, 3, 4, 5, 6}, ErrorRate: 0},
		"risky": {Faces: []int{2, 3, 4, 5, 6, 7}, ErrorRate: 0.1},
	}, knownDice, "the same dice that stage 3's die-service will serve")
	assert.Equal(t, []string{"fair", "risky"}, knownDice.names(), "sorted, for error messages")
}

func TestLookup(t *testing.T) {
	spec, err := knownDice.lookup("risky")
	require.NoError(t, err)
	assert.Equal(t, Die{Faces: []int{2, 3, 4, 5, 6, 7}, ErrorRate: 0.1}, spec)

	for _, die := range []string{"", "x", "Fair", "fair "} {
		_, err := knownDice.lookup(die)
		var unknown *unknownDieError
		require.ErrorAs(t, err, &unknown, "die %q", die)
		assert.Equal(t, `unknown die "`+die+`"; valid: fair, risky`, err.Error())
	}
}

func TestMissingDieMessage(t *testing.T) {
	assert.Equal(t, `missing query parameter "die"; valid: fair, risky`, errMissingDie.Error())
}
