package stage

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tempPrefix begins the name of every temporary folder a run makes:
// workshop-<kind>-<pid of the CLI>-<random>.
const tempPrefix = "workshop-"

// tempKinds are the kinds of temporary folder a run makes (binaries,
// images, services' homes) and SweepTemp removes.
var tempKinds = []string{"bin", "img", "home"}

// TempDir makes a temporary folder of a kind of tempKinds, named after this
// process so that SweepTemp can tell when its run is gone. The run removes
// it when it stops; a killed run leaves it to SweepTemp.
func TempDir(kind string) (string, error) {
	return os.MkdirTemp("", tempPrefix+kind+"-"+strconv.Itoa(os.Getpid())+"-")
}

// SweepTemp removes the temporary folders (TempDir) of runs whose process
// is gone, and returns how many it removed. It never touches a live run's.
func SweepTemp() int {
	n := 0
	for _, kind := range tempKinds {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+kind+"-*-*"))
		for _, d := range dirs {
			rest := strings.TrimPrefix(filepath.Base(d), tempPrefix+kind+"-")
			pid, _, _ := strings.Cut(rest, "-")
			if _, err := strconv.Atoi(pid); err != nil || ProcessAlive(pid) {
				continue
			}
			if os.RemoveAll(d) == nil {
				n++
			}
		}
	}
	return n
}
