//go:build !linux

package stage

// SweepLocal finds leftover services through /proc, which only Linux has;
// elsewhere a killed run's services must be stopped by hand (workshop doctor
// tells which process holds a port).
func SweepLocal() (int, error) { return 0, nil }
