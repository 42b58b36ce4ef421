package stage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"
)

// BuildError is a compile failure, with the compiler's output for the learner.
type BuildError struct {
	Service string
	Output  string
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("%s does not build:\n%s", e.Service, strings.TrimSpace(e.Output))
}

// Target is the platform to build for.
type Target struct{ GOOS, GOARCH string }

// BinDir is where a stage module's services are built for a target: bin/
// in the module (which git ignores), a folder per platform. Building into
// the same folder every time lets go build skip the link of a binary that
// is up to date, the longest part of a check that follows a small edit.
func BinDir(dir string, target Target) string {
	return filepath.Join(dir, "bin", target.GOOS+"_"+target.GOARCH)
}

// Build compiles each service of the module at dir into outDir and returns
// the binaries by service name. CGO is off so the binaries are static (a
// FROM scratch image can run them). The module is built on its own
// (GOWORK=off), so a copy of a stage anywhere on disk builds the same way.
// A binary already in outDir and up to date is not linked again.
func Build(ctx context.Context, dir string, services []Service, target Target, outDir string) (map[string]string, error) {
	// Absolute: go build runs in dir, and the binaries are started from
	// wherever the caller is (grade is given learners' folders as typed).
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return nil, fmt.Errorf("%s is not a stage module (no go.mod there)", dir)
	}
	pkgs := make([]string, 0, len(services))
	for _, s := range services {
		if _, err := os.Stat(filepath.Join(dir, s.Name)); err != nil {
			return nil, &BuildError{Service: s.Name, Output: fmt.Sprintf("the folder %s/ is missing from %s", s.Name, dir)}
		}
		pkgs = append(pkgs, "./"+s.Name)
	}
	// One go build for every service: the packages they share compile once,
	// and in parallel.
	if output, err := goBuild(ctx, dir, target, outDir+string(filepath.Separator), pkgs...); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &BuildError{Service: failingService(output, services), Output: output}
	}
	bins := map[string]string{}
	for _, s := range services {
		out := filepath.Join(outDir, s.Name)
		if target.GOOS == "windows" {
			out += ".exe"
		}
		bins[s.Name] = out
	}
	return bins, nil
}

// goBuild runs go build -o out for the packages of the module at dir, static
// (CGO off), on its own (GOWORK=off) and without debug information (-s -w:
// a third less to link and to pack; panics still print their stacks), and
// returns the compiler's output. Its scratch folder is beside out, so each
// binary is renamed into place whole: a service started from out never
// runs a half-written file, even with a build of the same module beside it.
func goBuild(ctx context.Context, dir string, target Target, out string, pkgs ...string) (string, error) {
	scratch := out
	if !strings.HasSuffix(out, string(filepath.Separator)) {
		scratch = filepath.Dir(out)
	}
	scratch, err := filepath.Abs(scratch)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return "", err
	}
	removeStaleScratch(scratch)
	args := append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	// Interrupted, go removes its scratch folder before it exits; killed
	// only if it does not within a few seconds.
	cmd.Cancel = func() error {
		if goruntime.GOOS == "windows" { // no interrupt to send
			return cmd.Process.Kill()
		}
		return cmd.Process.Signal(os.Interrupt)
	}
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOOS="+target.GOOS, "GOARCH="+target.GOARCH,
		"GOTMPDIR="+scratch)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err = cmd.Run()
	return output.String(), err
}

// removeStaleScratch removes the scratch folders of go builds that were
// killed before they could (an hour is longer than any build).
func removeStaleScratch(dir string) {
	stale, _ := filepath.Glob(filepath.Join(dir, "go-build*"))
	for _, d := range stale {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > time.Hour {
			_ = os.RemoveAll(d)
		}
	}
}

// failingService names the service whose code the compiler complained about
// (a shared package's error is named after the first service).
func failingService(output string, services []Service) string {
	for _, line := range strings.Split(output, "\n") {
		for _, s := range services {
			if strings.HasPrefix(line, s.Name+"/") || strings.HasPrefix(line, "# ") && strings.HasSuffix(line, "/"+s.Name) {
				return s.Name
			}
		}
	}
	return services[0].Name
}
