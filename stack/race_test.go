//go:build race

package stack

func init() { raceEnabled = true }
