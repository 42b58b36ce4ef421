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

// MaxLineBytes bounds one line a LineWriter hands over: a service that
// prints without a newline must not grow the buffer for ever. A longer line
// is cut there, with TruncatedMark at its end, and its rest is skipped.
const MaxLineBytes = 64 << 10

// TruncatedMark ends a line that LineWriter cut at MaxLineBytes.
const TruncatedMark = " …[line truncated]"

// LineWriter splits a stream into lines and hands each to fn. Chunks need
// not end on a newline (container logs do not).
type LineWriter struct {
	fn       func(line []byte)
	buf      []byte
	skipping bool // the current line was cut: drop up to its newline
}

// NewLineWriter hands each line written to it to fn, without its newline.
func NewLineWriter(fn func(line []byte)) *LineWriter { return &LineWriter{fn: fn} }

func (w *LineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if w.skipping {
			if i < 0 {
				return n, nil
			}
			w.skipping, p = false, p[i+1:]
			continue
		}
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) > MaxLineBytes {
				w.cut()
			}
			return n, nil
		}
		w.buf = append(w.buf, p[:i]...)
		p = p[i+1:]
		if len(w.buf) > MaxLineBytes {
			w.cut()
			w.skipping = false // the newline was just seen
			continue
		}
		line := w.buf
		w.buf = nil
		w.fn(line)
	}
	return n, nil
}

// cut hands over the first MaxLineBytes of the buffered line, marked, and
// skips the rest of it.
func (w *LineWriter) cut() {
	line := append(w.buf[:MaxLineBytes:MaxLineBytes], TruncatedMark...)
	w.buf = nil
	w.skipping = true
	w.fn(line)
}

// Flush hands over a last line that had no newline.
func (w *LineWriter) Flush() {
	if len(w.buf) > 0 {
		w.fn(w.buf)
		w.buf = nil
	}
	w.skipping = false
}
