// Package repo finds the workshop checkout the CLI works on.
package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Stages is the number of stages in the workshop.
const Stages = 4

// Root finds the workshop checkout: $WORKSHOP_ROOT if set, else the nearest
// parent of dir that holds go.work and stages/.
func Root(dir string) (string, error) {
	if env := os.Getenv("WORKSHOP_ROOT"); env != "" {
		if !isRoot(env) {
			return "", fmt.Errorf("WORKSHOP_ROOT=%s is not a workshop checkout (no go.work and stages/ there)", env)
		}
		return filepath.Abs(env)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if isRoot(d) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("not inside the workshop repository: cd into your clone (the folder with go.work and stages/), or set WORKSHOP_ROOT")
		}
	}
}

func isRoot(d string) bool {
	if _, err := os.Stat(filepath.Join(d, "go.work")); err != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(d, "stages"))
	return err == nil && fi.IsDir()
}

// StageDir is the reference module of stage n.
func StageDir(root string, n int) string {
	return filepath.Join(root, "stages", "stage"+strconv.Itoa(n))
}

// ExerciseDir is the learner's module of stage n.
func ExerciseDir(root string, n int) string {
	return filepath.Join(root, "exercises", "stage"+strconv.Itoa(n))
}

// ParseStage reads a stage number, with the error people should see.
func ParseStage(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > Stages {
		return 0, fmt.Errorf("no stage %s; stages are 1–%d", s, Stages)
	}
	return n, nil
}
