package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-o11y-workshop/kit/workshop/internal/exercise"
)

// runGen regenerates exercises/ and solutions/ from the marked regions of
// stages/ (for maintainers: the drift test fails until this is run).
func runGen(env *Env, args []string) error {
	fs := newFlags(env, "gen", "")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return usagef("gen takes no arguments")
	}
	root, err := env.root()
	if err != nil {
		return err
	}
	if err := exercise.Generate(root); err != nil {
		return err
	}
	stages := make([]string, len(exercise.Stages))
	for i, n := range exercise.Stages {
		stages[i] = strconv.Itoa(n)
	}
	fmt.Fprintf(env.Stdout, "wrote exercises/ and solutions/ of stages %s\n", strings.Join(stages, ", "))
	return nil
}
