// Package state keeps what the CLI remembers about the learner between runs:
// the last check result of each stage and how many hints were revealed. It
// lives in .workshop/state.json at the repository root, ignored by git.
package state

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// CheckResult is the summary of the last `workshop check` of a stage.
type CheckResult struct {
	Dir    string    `json:"dir"`
	Passed int       `json:"passed"`
	Total  int       `json:"total"`
	At     time.Time `json:"at"`
	// Failing are the ids (keys, "async-children") of the checks that
	// failed. A file written before they were kept has none, and ids of
	// checks that no longer exist may be in it: readers skip what they do
	// not know.
	Failing []string `json:"failing,omitempty"`
}

// OK reports whether every check passed.
func (c CheckResult) OK() bool { return c.Total > 0 && c.Passed == c.Total }

// State is the whole file.
type State struct {
	Checks map[string]CheckResult `json:"checks,omitempty"` // by stage number
	Hints  map[string]int         `json:"hints,omitempty"`  // revealed count, by exercise id
}

// Path is the state file of the checkout at root.
func Path(root string) string { return filepath.Join(root, ".workshop", "state.json") }

// Load reads the state; a missing file is an empty state.
func Load(root string) (*State, error) {
	s := &State{Checks: map[string]CheckResult{}, Hints: map[string]int{}}
	b, err := os.ReadFile(Path(root))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, errors.New("the state file " + Path(root) + " is damaged; delete it to start afresh: " + err.Error())
	}
	if s.Checks == nil {
		s.Checks = map[string]CheckResult{}
	}
	if s.Hints == nil {
		s.Hints = map[string]int{}
	}
	return s, nil
}

// Save writes the state atomically (a crash never leaves half a file).
func (s *State) Save(root string) error {
	path := Path(root)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
