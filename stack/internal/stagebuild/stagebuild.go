// Package stagebuild builds a stage's services and the healthcheck probe on
// the host (CGO_ENABLED=0, linux) into stages/stageN/bin/, where the stage's
// Dockerfile copies them from. The images are then FROM scratch, so building
// them pulls nothing and works with no registry.
package stagebuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// ServiceNames are the services a stage can have, in the order of the port table.
var ServiceNames = []string{"die-service", "dice-roller", "frontend"}

// StageDir is stages/stageN under the repository root.
func StageDir(root string, stage int) string {
	return filepath.Join(root, "stages", "stage"+strconv.Itoa(stage))
}

// Services lists the services stage n has (the folders of stages/stageN
// that hold one of ServiceNames).
func Services(root string, stage int) ([]string, error) {
	return ModuleServices(StageDir(root, stage), stage)
}

// ModuleServices lists the services of a stage module in dir: stages/stageN,
// exercises/stageN or a learner's copy.
func ModuleServices(dir string, stage int) ([]string, error) {
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return nil, fmt.Errorf("stage %d: %w", stage, err)
	}
	var out []string
	for _, s := range ServiceNames {
		if fi, err := os.Stat(filepath.Join(dir, s)); err == nil && fi.IsDir() {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("stage %d has no service folder in %s", stage, dir)
	}
	return out, nil
}

// Options says what to build for.
type Options struct {
	GOOS, GOARCH string // default: linux and the host's architecture
	Probe        bool   // also build stack/cmd/probe
	ModuleDir    string // the stage module to build; default stages/stageN
}

// Build builds stage n's services into out (created if needed), one binary
// per service named after it, plus the probe when opts asks for it.
func Build(ctx context.Context, root string, stage int, out string, opts Options) error {
	if opts.ModuleDir == "" {
		opts.ModuleDir = StageDir(root, stage)
	}
	services, err := ModuleServices(opts.ModuleDir, stage)
	if err != nil {
		return err
	}
	if opts.GOOS == "" {
		opts.GOOS = "linux"
	}
	if opts.GOARCH == "" {
		opts.GOARCH = runtime.GOARCH
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	pkgs := make([]string, len(services))
	for i, s := range services {
		pkgs[i] = "./" + s
	}
	// One go build for every service: -o with a trailing separator writes
	// each main package as a binary named after its folder.
	if err := goBuild(ctx, opts.ModuleDir, out+string(filepath.Separator), opts, pkgs...); err != nil {
		return fmt.Errorf("stage %d: %w", stage, err)
	}
	if opts.Probe {
		if err := goBuild(ctx, filepath.Join(root, "stack"), filepath.Join(out, "probe"), opts, "./cmd/probe"); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
	}
	return nil
}

func goBuild(ctx context.Context, dir, out string, opts Options, pkgs ...string) error {
	args := append([]string{"build", "-trimpath", "-o", out}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+opts.GOOS, "GOARCH="+opts.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return nil
}

// EngineArch is the architecture of the Docker engine's images (arm64 on
// Apple Silicon), or the host's when the engine does not say.
func EngineArch(ctx context.Context) string {
	b, err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Arch}}").Output()
	if arch := strings.TrimSpace(string(b)); err == nil && arch != "" {
		return arch
	}
	return runtime.GOARCH
}

// Root finds the repository root (the folder with go.work) from dir upwards.
func Root(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "stages")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work with a stages/ folder above the current directory")
		}
		dir = parent
	}
}
