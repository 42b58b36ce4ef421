package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/exercise"
	"github.com/go-o11y-workshop/kit/workshop/internal/files"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// realRepoCopy is a temporary checkout made of the real go.work and stages/,
// with exercises/ and solutions/ generated from them.
func realRepoCopy(t *testing.T) string {
	t.Helper()
	real, err := repo.Root(".")
	require.NoError(t, err)
	root := t.TempDir()
	b, err := os.ReadFile(filepath.Join(real, "go.work"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.work"), b, 0o644))
	require.NoError(t, files.CopyTree(filepath.Join(real, "stages"), filepath.Join(root, "stages"), nil))
	require.NoError(t, exercise.GenerateTo(root, root))
	return root
}

// runWithInput runs the command with stdin as the answers to its questions.
func runWithInput(t *testing.T, dir, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &Env{Stdout: &out, Stderr: &errb, Dir: dir, Stdin: strings.NewReader(stdin)})
	return code, out.String(), errb.String()
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

// backups lists the backup folders of root.
func backups(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, ".workshop", "backups"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, filepath.Join(root, ".workshop", "backups", e.Name()))
	}
	return out
}
