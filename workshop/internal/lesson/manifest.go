// Package lesson reads each stage's lesson: its manifest (lesson.toml) and
// the markdown steps it names, and renders them for the terminal.
package lesson

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// Stage is one stage's lesson as its manifest describes it.
type Stage struct {
	Number    int        `toml:"stage"`
	Title     string     `toml:"title"`
	Summary   string     `toml:"summary"`
	Overview  string     `toml:"overview"`
	Steps     []Step     `toml:"steps"`
	Exercises []Exercise `toml:"exercises"`

	// Dir is the folder holding the manifest and the markdown.
	Dir string `toml:"-"`
}

// Step is one numbered step of a lesson.
type Step struct {
	ID       string   `toml:"id"`
	Title    string   `toml:"title"`
	File     string   `toml:"file"`
	Exercise string   `toml:"exercise"`
	Checks   []string `toml:"checks"` // ids of `workshop check N` checks about this step
}

// Exercise is code the learner writes in a step.
type Exercise struct {
	ID    string   `toml:"id"`
	Step  string   `toml:"step"`
	Title string   `toml:"title"`
	Files []string `toml:"files"`
	Goal  string   `toml:"goal"`
	Hints []string `toml:"hints"`
	// Tests are the stage's tests that fail until this exercise is done,
	// each "PKG/TestName" with PKG the package's folder in the module.
	Tests []string `toml:"tests"`
}

// ManifestPath is where stage n's manifest lives.
func ManifestPath(root string, n int) string {
	return filepath.Join(repo.StageDir(root, n), "lesson", "lesson.toml")
}

// Load reads stage n's manifest.
func Load(root string, n int) (*Stage, error) {
	path := ManifestPath(root, n)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lesson manifest of stage %d: %w", n, err)
	}
	s, err := Parse(data, n, path)
	if err != nil {
		return nil, err
	}
	s.Dir = filepath.Dir(path)
	return s, nil
}

// Parse decodes stage n's manifest from data, read from path (named in the
// errors): a file, or a blob of a commit. Its Dir is left empty.
func Parse(data []byte, n int, path string) (*Stage, error) {
	var s Stage
	md, err := toml.Decode(string(data), &s)
	if err != nil {
		return nil, fmt.Errorf("lesson manifest %s: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return nil, fmt.Errorf("lesson manifest %s: unknown keys %v", path, undecoded)
	}
	if s.Number != n {
		return nil, fmt.Errorf("lesson manifest %s says stage = %d, want %d", path, s.Number, n)
	}
	return &s, nil
}

// LoadAll reads every stage's manifest, in order.
func LoadAll(root string) ([]*Stage, error) {
	var out []*Stage
	for n := 1; n <= repo.Stages; n++ {
		s, err := Load(root, n)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Step finds a step by "M" or "N.M".
func (s *Stage) Step(ref string) (*Step, error) {
	id := ref
	if !strings.Contains(ref, ".") {
		id = strconv.Itoa(s.Number) + "." + ref
	}
	for i := range s.Steps {
		if s.Steps[i].ID == id {
			return &s.Steps[i], nil
		}
	}
	return nil, fmt.Errorf("no step %s in stage %d; steps are %s", ref, s.Number, s.stepRange())
}

func (s *Stage) stepRange() string {
	if len(s.Steps) == 0 {
		return "none yet"
	}
	return s.Steps[0].ID + "–" + s.Steps[len(s.Steps)-1].ID
}

// Exercise finds an exercise by its id "N.M".
func (s *Stage) Exercise(id string) (*Exercise, error) {
	for i := range s.Exercises {
		if s.Exercises[i].ID == id {
			return &s.Exercises[i], nil
		}
	}
	ids := make([]string, len(s.Exercises))
	for i, e := range s.Exercises {
		ids[i] = e.ID
	}
	return nil, fmt.Errorf("no exercise %s; stage %d's exercises are %s", id, s.Number, strings.Join(ids, ", "))
}

// Read returns the markdown of a file of the lesson.
func (s *Stage) Read(file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, file))
	if err != nil {
		return "", fmt.Errorf("lesson file of stage %d: %w", s.Number, err)
	}
	return string(b), nil
}

// StepRef names a step for people, with the command that shows it:
// "step 4.2 (workshop show 4 2)". Every id a learner reads says its kind.
func StepRef(id string) string {
	stage, num, ok := strings.Cut(id, ".")
	if !ok {
		return "step " + id
	}
	return fmt.Sprintf("step %s (workshop show %s %s)", id, stage, num)
}

// ExerciseRef names an exercise for people, with the command that gives its
// hints: "exercise 4.1 (workshop hint 4.1)".
func ExerciseRef(id string) string {
	return fmt.Sprintf("exercise %s (workshop hint %s)", id, id)
}

// SplitID splits an exercise or step id "N.M" into its stage and the id.
func SplitID(id string) (int, error) {
	stage, _, ok := strings.Cut(id, ".")
	if !ok {
		return 0, fmt.Errorf("%q is not an exercise id; an exercise is named by the step that teaches it, like 4.1 (stage 4, step 1)", id)
	}
	return repo.ParseStage(stage)
}
