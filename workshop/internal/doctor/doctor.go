// Package doctor inspects the learner's machine: the Go toolchain, the
// Docker engine, and the ports the workshop needs.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	workshopruntime "github.com/go-o11y-workshop/kit/workshop/internal/runtime"
	"github.com/go-o11y-workshop/kit/workshop/internal/viewer"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// Port is a port the workshop uses, and what uses it.
type Port struct {
	Number  int
	Purpose string
}

// Ports lists every port the workshop listens on: the stages' services
// (stage.Layout, the port table of the SPEC), the viewer and the receiver.
func Ports() []Port {
	var ports []Port
	for n := 1; n <= repo.Stages; n++ {
		services, _ := stage.Layout(n)
		for _, s := range services {
			ports = append(ports, Port{s.Port, fmt.Sprintf("stage %d %s", n, s.Name)})
		}
	}
	return append(ports, Port{viewer.DefaultPort, "telemetry viewer"}, Port{otlp.DefaultPort, "OTLP/HTTP receiver"})
}

// Report is what doctor found.
type Report struct {
	OS, Arch     string
	GoVersion    string // of the go command on PATH
	GoError      string
	DockerHost   string
	DockerOK     bool
	DockerDetail string // engine version, or why it cannot be reached
	Ports        []PortStatus
}

// PortStatus says whether a port is free and, if not, what holds it.
type PortStatus struct {
	Port
	Free   bool
	HeldBy string
}

// Runtime is what `workshop check` would use with --runtime auto.
func (r Report) Runtime() string {
	if r.DockerOK {
		return "docker"
	}
	return "local"
}

// Inspect gathers the report.
func Inspect(ctx context.Context) Report {
	r := Report{OS: runtime.GOOS, Arch: runtime.GOARCH}
	r.GoVersion, r.GoError = goVersion(ctx)
	r.DockerHost, r.DockerOK, r.DockerDetail = pingDocker(ctx)
	for _, p := range Ports() {
		r.Ports = append(r.Ports, inspectPort(ctx, p))
	}
	return r
}

func goVersion(ctx context.Context) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "version").Output()
	if err != nil {
		return "", "the go command is not on PATH or failed: " + err.Error()
	}
	return strings.TrimSpace(string(out)), ""
}

// pingDocker asks the engine the way `workshop check` does, so both agree
// on whether Docker is there.
func pingDocker(ctx context.Context) (host string, ok bool, detail string) {
	eng, err := workshopruntime.DetectEngine(ctx)
	if err != nil {
		return "", false, err.Error()
	}
	return eng.Host, true, fmt.Sprintf("Docker Engine %s (%s)", eng.Version, eng.Arch)
}

// inspectPort tries to bind the port; when that fails it tells what holds it.
func inspectPort(ctx context.Context, p Port) PortStatus {
	st := PortStatus{Port: p}
	if stage.PortFree(p.Number) {
		st.Free = true
		return st
	}
	st.HeldBy = identify(ctx, p.Number)
	return st
}

// identify names what listens on a port: one of our services (they describe
// themselves at GET /), else the process found through /proc on Linux.
func identify(ctx context.Context, port int) string {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		defer resp.Body.Close()
		var d struct {
			Service string `json:"service"`
			Stage   int    `json:"stage"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(body, &d) == nil && d.Service != "" {
			return fmt.Sprintf("the workshop's %s (stage %d)", d.Service, d.Stage)
		}
	}
	if name := processOnPort(port); name != "" {
		return "process " + name
	}
	return "another program"
}
