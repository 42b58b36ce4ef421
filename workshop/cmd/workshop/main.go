// Command workshop is the Go observability workshop's companion: it shows the
// lessons, diffs the stages, gives hints and checks the learner's machine.
package main

import (
	"os"

	"golang.org/x/term"

	"github.com/go-o11y-workshop/kit/workshop/internal/cli"
)

func main() {
	dir, err := os.Getwd()
	if err != nil {
		dir = "."
	}
	env := &cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin, Dir: dir}
	if fd := int(os.Stdout.Fd()); term.IsTerminal(fd) {
		env.Terminal = true
		env.Width, _, _ = term.GetSize(fd)
	}
	os.Exit(cli.Main(os.Args[1:], env))
}
