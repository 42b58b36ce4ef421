package main

// The browser harness of the frontend's tests: find Chromium, start it
// headless for one test, save screenshots, and make sure no browser process
// outlives the test. Nothing here knows the frontend, so stages 2 and 3 copy
// this file as it is.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumCandidates are tried in order when CHROMIUM_PATH is not set.
var chromiumCandidates = []string{
	"chromium", // Debian, Ubuntu (apt-get install chromium)
	"chromium-browser",
	"google-chrome",
	"google-chrome-stable",
	"headless-shell",
	"/Applications/Chromium.app/Contents/MacOS/Chromium",
	"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
}

// findChromium returns the browser to drive: $CHROMIUM_PATH, or the first
// candidate found. It returns "" when there is none.
func findChromium() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	for _, name := range chromiumCandidates {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless Chromium for t and returns its chromedp
// context. The whole browser lives at most timeout: a hung page fails the
// test instead of hanging it. Without Chromium the test is skipped, except on
// CI (CI=true), where a missing browser must fail the build. When t ends the
// browser is closed, a screenshot is saved if t failed, and any process of
// this browser that is still running fails the test.
func newBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path := findChromium()
	if path == "" {
		const msg = "chromium not installed: apt-get install chromium (or set CHROMIUM_PATH)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; on CI the browser tests must run")
		}
		t.Skip(msg)
	}

	// Every process of this browser is found again by its profile directory
	// (on its command line) or by this variable (in its environment, which
	// the crash handler keeps but the zygote's children do not).
	marker := fmt.Sprintf("GO_TEST_BROWSER=%d-%d", os.Getpid(), time.Now().UnixNano())

	bounded, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Env(marker),
		chromedp.Headless,
		chromedp.NoSandbox, // containers and CI runners often run as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1024, 768),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(bounded, opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	started := false
	stop := func() {
		// Close a started browser politely first (chromedp.Cancel on a browser
		// that never started makes cancelBrowser wait forever), then for sure:
		// the cancel funcs return once the process has exited.
		if started {
			closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := chromedp.Cancel(closeCtx); err != nil && !errors.Is(err, context.Canceled) &&
				!errors.Is(err, context.DeadlineExceeded) {
				t.Logf("closing the browser: %v", err)
			}
			cancel()
		}
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	}

	// The first action starts the browser (it is bound to ctx from now on).
	startedAt := time.Now()
	if err := chromedp.Do(ctx); err != nil {
		stop()
		t.Fatalf("cannot start %s: %v", path, err)
	}
	started = true
	dataDir := userDataDir(ctx)
	t.Logf("browser: %s (profile %s) started in %v", path, dataDir, time.Since(startedAt))

	t.Cleanup(func() {
		stop()
		if left := waitProcessesGone(marker, dataDir, 5*time.Second); len(left) > 0 {
			t.Errorf("browser processes left running after the test: %v", left)
			for _, pid := range left {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill() // started by this test
				}
			}
		}
	})
	// Registered last, so it runs first: the page as it was when t failed.
	t.Cleanup(func() {
		if t.Failed() && ctx.Err() == nil {
			saveScreenshot(t, ctx, "failure")
		}
	})
	return ctx
}

// saveScreenshot saves a PNG of the whole page into $TEST_ARTIFACTS when it
// is set, else into the test's artifact directory (kept by
// `go test -artifacts`), and logs the file's path.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	shotCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(shotCtx, chromedp.FullScreenshot(100)) // quality 100 is PNG
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		dir = t.ArtifactDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", file)
}

// userDataDir is the profile directory of the browser of ctx, read from its
// command line. Chrome passes it to every helper process it starts, so it
// names them all. It is "" where /proc does not exist (not Linux).
func userDataDir(ctx context.Context) string {
	c := chromedp.FromContext(ctx)
	if c == nil || c.Browser == nil || c.Browser.Process() == nil {
		return ""
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(c.Browser.Process().Pid) + "/cmdline")
	if err != nil {
		return ""
	}
	for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
		if dir, ok := strings.CutPrefix(string(arg), "--user-data-dir="); ok {
			return dir
		}
	}
	return ""
}

// waitProcessesGone polls until no process carries the browser's marker or
// profile directory, and returns those still running after wait.
func waitProcessesGone(marker, dataDir string, wait time.Duration) []int {
	deadline := time.Now().Add(wait)
	for {
		left := browserProcesses(marker, dataDir)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// browserProcesses lists the processes that have marker in their environment
// or dataDir on their command line. It finds none where /proc does not exist.
func browserProcesses(marker, dataDir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		environ, _ := os.ReadFile("/proc/" + e.Name() + "/environ")
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if slices.ContainsFunc(bytes.Split(environ, []byte{0}), func(v []byte) bool { return string(v) == marker }) ||
			(dataDir != "" && bytes.Contains(cmdline, []byte(dataDir))) {
			pids = append(pids, pid)
		}
	}
	return pids
}
