package session

import (
	"fmt"
	"sync"
)

// The bounds of Lines: a service that logs in a loop must not take the CLI's
// memory with it (issue 14: 6 GB in 13 s before these bounds). The services'
// own lines are a few hundred per check; the bounds keep far more than that.
const (
	MaxLinesPerService     = 2000
	MaxLineBytesPerService = 4 << 20
)

// Lines keeps the most recent lines each service printed, within
// MaxLinesPerService and MaxLineBytesPerService per service, and counts the
// older lines it let go. It is safe for concurrent use.
type Lines struct {
	mu       sync.Mutex
	services map[string]*lineRing
}

type lineRing struct {
	lines   []string // oldest first; lines[head:] are the kept ones
	head    int
	bytes   int
	dropped int
}

// Add keeps line as the newest of service, dropping the oldest lines beyond
// the bounds.
func (l *Lines) Add(service string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.services == nil {
		l.services = map[string]*lineRing{}
	}
	r := l.services[service]
	if r == nil {
		r = &lineRing{}
		l.services[service] = r
	}
	r.lines = append(r.lines, string(line))
	r.bytes += len(line)
	for len(r.lines)-r.head > MaxLinesPerService || r.bytes > MaxLineBytesPerService && len(r.lines)-r.head > 1 {
		r.bytes -= len(r.lines[r.head])
		r.lines[r.head] = ""
		r.head++
		r.dropped++
	}
	// Compact once the dropped prefix is as long as what is kept, so the
	// slice does not grow for ever.
	if r.head > 0 && r.head >= len(r.lines)-r.head {
		r.lines = append(r.lines[:0:0], r.lines[r.head:]...)
		r.head = 0
	}
}

// Get returns the kept lines of service, oldest first.
func (l *Lines) Get(service string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.services[service]
	if r == nil {
		return nil
	}
	return append([]string(nil), r.lines[r.head:]...)
}

// Dropped is how many older lines of service were let go.
func (l *Lines) Dropped(service string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.services[service]; r != nil {
		return r.dropped
	}
	return 0
}

// DroppedNote says, in one line for people, that lines of service were let
// go; "" when none were.
func (l *Lines) DroppedNote(service string) string {
	n := l.Dropped(service)
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("(%d earlier lines of the %s were not kept: the capture keeps its last %d lines or %d MB)",
		n, service, MaxLinesPerService, MaxLineBytesPerService>>20)
}
