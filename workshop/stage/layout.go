package stage

import (
	"bytes"
	"fmt"
)

// Service is one service of a stage.
type Service struct {
	Name string // folder in the stage module, and its compose name
	Port int    // default port in that stage
	// Needs names the services it calls as it starts, which must answer
	// before it starts (stages 3–4's frontend fetches the die list once;
	// the others only call their peers per request).
	Needs []string
}

// layouts is the port table of SPEC §3, stage by stage: the one copy the
// CLI, doctor and the stack's tests read.
var layouts = [...][]Service{
	1: {{Name: "dice-roller", Port: 8100}},
	2: {{Name: "dice-roller", Port: 8101}, {Name: "frontend", Port: 8102}},
	3: {{Name: "die-service", Port: 8103}, {Name: "dice-roller", Port: 8104},
		{Name: "frontend", Port: 8105, Needs: []string{"die-service"}}},
	4: {{Name: "die-service", Port: 8106}, {Name: "dice-roller", Port: 8107},
		{Name: "frontend", Port: 8108, Needs: []string{"die-service"}}},
}

// Layout lists the services of stage n with their ports, dependencies first
// (a service only calls the ones before it).
func Layout(n int) ([]Service, error) {
	if n < 1 || n >= len(layouts) {
		return nil, fmt.Errorf("no stage %d; stages are 1–%d", n, len(layouts)-1)
	}
	return append([]Service(nil), layouts[n]...), nil
}

// PeerEnv is the environment that tells each service where its peers are,
// given a function that gives a peer's base URL.
func PeerEnv(services []Service, url func(Service) string) []string {
	var env []string
	for _, s := range services {
		switch s.Name {
		case "die-service":
			env = append(env, "DIE_SERVICE_URL="+url(s))
		case "dice-roller":
			env = append(env, "DICE_ROLLER_URL="+url(s))
		}
	}
	return env
}

// LineWriter splits a stream into lines and hands each to fn. Chunks need
// not end on a newline (container logs do not).
type LineWriter struct {
	fn  func(line []byte)
	buf []byte
}

// NewLineWriter hands each line written to it to fn, without its newline.
func NewLineWriter(fn func(line []byte)) *LineWriter { return &LineWriter{fn: fn} }

func (w *LineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := make([]byte, i)
		copy(line, w.buf[:i])
		w.buf = w.buf[i+1:]
		w.fn(line)
	}
	return len(p), nil
}

// Flush hands over a last line that had no newline.
func (w *LineWriter) Flush() {
	if len(w.buf) > 0 {
		w.fn(w.buf)
		w.buf = nil
	}
}
