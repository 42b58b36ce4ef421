// Package browsertest drives headless Chromium for the tests of the pages
// the CLI serves (the viewer, the class board): it finds the browser, starts
// it for one test and makes sure it is gone after, and keeps screenshots.
package browsertest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Chromium finds a Chromium or Chrome binary. Without one the browser test
// is skipped on a laptop, but fails in CI, where it must run.
func Chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const msg = "no Chromium on PATH (tried chromium, chromium-browser, google-chrome): install it (apt-get install chromium) to run the browser test"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// ArtifactDir is where screenshots go: $TEST_ARTIFACTS for CI to keep, or
// a temporary directory.
func ArtifactDir(t *testing.T) string {
	if dir := os.Getenv("TEST_ARTIFACTS"); dir != "" {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		return dir
	}
	return t.TempDir()
}

// New starts headless Chromium for the test and closes it at the end,
// checking that its process is gone, so no run leaves one behind.
func New(t *testing.T, width, height int) context.Context {
	t.Helper()
	exe := Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a safety net, not an assertion
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // containers and CI runners rarely allow Chromium's sandbox
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(width, height),
	)...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	require.NoError(t, chromedp.Do(browserCtx)) // start it now, to know its process

	proc := chromedp.FromContext(browserCtx).Browser.Process()
	require.NotNil(t, proc)
	t.Cleanup(func() {
		if err := chromedp.Cancel(browserCtx); err != nil {
			t.Logf("closing Chromium: %v", err)
		}
		cancelBrowser()
		cancelAlloc() // waits for the process to exit
		cancel()
		assert.True(t, errors.Is(proc.Signal(syscall.Signal(0)), os.ErrProcessDone), "Chromium (pid %d) still runs", proc.Pid)
	})
	return browserCtx
}

// Screenshot saves a PNG as a test artifact and returns its path.
func Screenshot(t *testing.T, name string, png []byte) string {
	t.Helper()
	path := filepath.Join(ArtifactDir(t), name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
	return path
}
