// Package doctor inspects the learner's machine: the Go toolchain, the
// Docker engine, and the ports the workshop needs.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Port is a port the workshop uses, and what uses it.
type Port struct {
	Number  int
	Purpose string
}

// Ports lists every port the workshop listens on, stage by stage.
var Ports = []Port{
	{8100, "stage 1 dice-roller"},
	{8101, "stage 2 dice-roller"}, {8102, "stage 2 frontend"},
	{8103, "stage 3 die-service"}, {8104, "stage 3 dice-roller"}, {8105, "stage 3 frontend"},
	{8106, "stage 4 die-service"}, {8107, "stage 4 dice-roller"}, {8108, "stage 4 frontend"},
	{8190, "telemetry viewer"},
	{4318, "OTLP/HTTP receiver"},
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
	for _, p := range Ports {
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

// dockerSocket finds the engine's address: DOCKER_HOST, else the usual
// sockets of Docker Engine and Docker Desktop.
func dockerSocket() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	candidates := []string{"/var/run/docker.sock"}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".docker", "run", "docker.sock"))
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return "unix://" + c
		}
	}
	return ""
}

// pingDocker asks the engine for its version over its API.
func pingDocker(ctx context.Context) (host string, ok bool, detail string) {
	host = dockerSocket()
	if host == "" {
		return "", false, "no Docker engine found (no DOCKER_HOST, no /var/run/docker.sock). " +
			"Colima, Rancher Desktop and Podman need DOCKER_HOST set to their socket. Without Docker, checks run local processes."
	}
	u, err := url.Parse(host)
	if err != nil {
		return host, false, "DOCKER_HOST is not a URL: " + err.Error()
	}
	client := &http.Client{Timeout: 3 * time.Second}
	base := "http://" + u.Host
	switch u.Scheme {
	case "unix":
		client.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", u.Path)
		}}
		base = "http://docker"
	case "tcp":
	default:
		return host, false, "DOCKER_HOST scheme " + u.Scheme + " is not supported here (use unix:// or tcp://)"
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/version", nil)
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "permission denied") {
			return host, false, "the engine's socket refuses this user: add yourself to the docker group (then log in again)"
		}
		return host, false, "the engine does not answer at " + host + ": " + err.Error()
	}
	defer resp.Body.Close()
	var v struct {
		Version string `json:"Version"`
		Arch    string `json:"Arch"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		return host, false, "the engine answered " + resp.Status
	}
	return host, true, fmt.Sprintf("Docker Engine %s (%s)", v.Version, v.Arch)
}

// inspectPort tries to bind the port; when that fails it tells what holds it.
func inspectPort(ctx context.Context, p Port) PortStatus {
	st := PortStatus{Port: p}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(p.Number))
	if err == nil {
		ln.Close()
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
