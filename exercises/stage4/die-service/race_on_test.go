//go:build race

package main

// raceEnabled: the tests were built with -race, so the binary under test is
// too. It then reuses the packages the test build already compiled, and the
// race detector watches the real process as well.
const raceEnabled = true
