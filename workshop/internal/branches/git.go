package branches

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

var errNoGit = errors.New("git is not installed (or not on PATH): workshop branches needs it")

// git runs git plumbing in one directory of a repository.
type git struct {
	dir string
}

// gitRequest is one git command: its arguments, what it reads on stdin and
// the variables it gets on top of the environment.
type gitRequest struct {
	args  []string
	stdin []byte
	env   []string
}

// run runs a git command and returns its stdout; a failure carries git's
// own message.
func (g git) run(ctx context.Context, r gitRequest) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", r.args...)
	cmd.Dir = g.dir
	// Variables a calling git (a hook, a rebase --exec) may have set would
	// point the plumbing at another repository or at the real index.
	cmd.Env = append(withoutVars(os.Environ(), "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX"), r.env...)
	if r.stdin != nil {
		cmd.Stdin = bytes.NewReader(r.stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, errNoGit
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("git %s: %s", command(r.args), msg)
	}
	return stdout.Bytes(), nil
}

// line runs a git command whose output is one line, and returns that line.
func (g git) line(ctx context.Context, args ...string) (string, error) {
	out, err := g.run(ctx, gitRequest{args: args})
	return strings.TrimSpace(string(out)), err
}

func withoutVars(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// command is the git command of args, after their -c options.
func command(args []string) string {
	for len(args) > 2 && args[0] == "-c" {
		args = args[2:]
	}
	return args[0]
}
