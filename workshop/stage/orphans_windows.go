//go:build windows

package stage

// SweepLocal finds leftover services by their environment, which Windows
// does not list; there a killed run's services must be stopped by hand
// (workshop doctor tells which process holds a port).
func SweepLocal() (int, error) { return 0, nil }

// killMarked has nothing to find on Windows (see SweepLocal).
func killMarked(func(marker string) bool) int { return 0 }

// KillStrays has nothing to find on Windows (see SweepLocal).
func KillStrays() int { return 0 }
