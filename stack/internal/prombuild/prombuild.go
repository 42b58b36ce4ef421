// Package prombuild builds the real Prometheus of the stack (release 3.5.0,
// the Go module github.com/prometheus/prometheus v0.305.0) from the Go module
// proxy, for tests on machines that cannot pull prom/prometheus. The binaries
// go into a cache folder outside the repository, keyed by version and
// platform, once per machine: the first run pays the build (minutes, over a
// gigabyte of modules), later runs find the binaries.
//
// Two processes may ask at once (a test and the background build of .ci/run):
// the second waits on a lock file, and the binaries appear in their folder by
// one atomic rename, so a half-written build is never seen.
package prombuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

const (
	// Module and ModuleVersion are what the Go module proxy serves.
	Module        = "github.com/prometheus/prometheus"
	ModuleVersion = "v0.305.0"
	// Release is the Prometheus version the module version stands for: the
	// one pinned in stack/compose.yaml (prom/prometheus:v3.5.0).
	Release = "3.5.0"
)

// Platform is what the binaries are built for.
type Platform struct{ GOOS, GOARCH string }

// Host is the platform of this process.
func Host() Platform { return Platform{runtime.GOOS, runtime.GOARCH} }

func (p Platform) String() string { return p.GOOS + "/" + p.GOARCH }

// Binaries are the paths of a finished build.
type Binaries struct {
	Dir        string // the folder holding both
	Prometheus string
	Promtool   string
}

// CacheDir is where builds are kept: $XDG_CACHE_HOME (or the user cache
// folder: ~/.cache, ~/Library/Caches) / go-o11y-workshop / prometheus-v0.305.0.
func CacheDir() (string, error) {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		var err error
		if base, err = os.UserCacheDir(); err != nil {
			return "", fmt.Errorf("no cache folder for the Prometheus build: %w", err)
		}
	}
	return filepath.Join(base, "go-o11y-workshop", "prometheus-"+ModuleVersion), nil
}

func binaries(dir string, p Platform) Binaries {
	exe := ""
	if p.GOOS == "windows" {
		exe = ".exe"
	}
	return Binaries{Dir: dir, Prometheus: filepath.Join(dir, "prometheus"+exe), Promtool: filepath.Join(dir, "promtool"+exe)}
}

func (b Binaries) complete() bool {
	for _, f := range []string{b.Prometheus, b.Promtool} {
		if fi, err := os.Stat(f); err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// Cached returns the binaries for p if a build is already there.
func Cached(p Platform) (Binaries, bool) {
	cache, err := CacheDir()
	if err != nil {
		return Binaries{}, false
	}
	b := binaries(filepath.Join(cache, p.GOOS+"_"+p.GOARCH), p)
	return b, b.complete()
}

// Ensure returns prometheus and promtool built for p, building them first if
// the cache has none. Progress goes to log (one line per step).
func Ensure(ctx context.Context, p Platform, log io.Writer) (Binaries, error) {
	cache, err := CacheDir()
	if err != nil {
		return Binaries{}, err
	}
	b := binaries(filepath.Join(cache, p.GOOS+"_"+p.GOARCH), p)
	if b.complete() {
		return b, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return Binaries{}, err
	}
	unlock, err := lock(ctx, filepath.Join(cache, p.GOOS+"_"+p.GOARCH+".lock"), func() {
		fmt.Fprintf(log, "prombuild: another process is building Prometheus %s for %s: waiting for it\n", Release, p)
	})
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()
	if b.complete() { // built by the process we waited for
		return b, nil
	}

	began := time.Now()
	fmt.Fprintf(log, "prombuild: building Prometheus %s (%s@%s) for %s into %s: the first time takes minutes and over a gigabyte of modules\n",
		Release, Module, ModuleVersion, p, b.Dir)
	tmp, err := os.MkdirTemp(cache, ".build-")
	if err != nil {
		return Binaries{}, err
	}
	defer os.RemoveAll(tmp)
	if err := build(ctx, tmp, p); err != nil {
		return Binaries{}, err
	}
	// One rename makes the build visible whole. Another process can only have
	// won the race where there is no lock (see lock_other.go): then its build
	// is as good as ours.
	if err := os.Rename(filepath.Join(tmp, "bin"), b.Dir); err != nil && !b.complete() {
		return Binaries{}, fmt.Errorf("installing the Prometheus build: %w", err)
	}
	fmt.Fprintf(log, "prombuild: Prometheus %s for %s built in %s\n", Release, p, time.Since(began).Round(time.Second))
	return b, nil
}

// build downloads the module and builds both commands into tmp/bin.
func build(ctx context.Context, tmp string, p Platform) error {
	// Outside any workspace or module: GOWORK=off, and GOFLAGS cleared so a
	// caller's -mod=vendor or the like does not leak in.
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	out, err := goCmd(ctx, tmp, env, "mod", "download", "-json", Module+"@"+ModuleVersion)
	if err != nil {
		return err
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return fmt.Errorf("go mod download: %w", err)
	}
	if mod.Error != "" || mod.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: %s", Module, ModuleVersion, mod.Error)
	}
	// The module cache is read-only: build in a copy (the module's own go.mod
	// and go.sum, with its replace directive, decide every dependency).
	src := filepath.Join(tmp, "src")
	if err := copyTree(mod.Dir, src); err != nil {
		return fmt.Errorf("copying the Prometheus sources: %w", err)
	}
	if err := os.WriteFile(filepath.Join(src, "plugins", "plugins.go"), []byte(pluginsGo), 0o644); err != nil {
		return err
	}
	// As upstream's .promu.yml builds it, less the builtinassets tag: the web
	// UI's assets are made with npm and are not in the module, so the UI
	// answers 500 while the HTTP API, scraping and storage are the release's.
	ldflags := "-X github.com/prometheus/common/version.Version=" + Release +
		" -X github.com/prometheus/common/version.Branch=module-" + ModuleVersion + "-static-sd" +
		" -X github.com/prometheus/common/version.BuildUser=go-o11y-workshop"
	env = append(env, "CGO_ENABLED=0", "GOOS="+p.GOOS, "GOARCH="+p.GOARCH)
	_, err = goCmd(ctx, src, env, "build", "-trimpath", "-tags", "netgo", "-ldflags", ldflags,
		"-o", filepath.Join(tmp, "bin")+string(filepath.Separator), "./cmd/prometheus", "./cmd/promtool")
	return err
}

// pluginsGo replaces the module's plugins/plugins.go, the list of service
// discovery plugins compiled in (upstream's README: edit plugins.yml, `make
// plugins`, for a build with fewer). The stack's prometheus.yml has only
// static_configs, built in like the file and http discoveries that
// plugins/minimum.go keeps; the cloud discoveries (Kubernetes, AWS, Azure,
// GCE, ...) are most of the build's modules and time, and are left out.
const pluginsGo = `// Written by the workshop's prombuild: no optional service discovery.

package plugins
`

func goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(args, " "), dir, err, tail(stderr.String(), 4000))
	}
	return stdout.Bytes(), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// copyTree copies the regular files and folders under from into to, writable.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(path, target)
		}
		return nil // the module zip holds no links or devices
	})
}

func copyFile(from, to string) (err error) {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	_, err = io.Copy(out, in)
	return err
}
