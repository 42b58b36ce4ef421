package otlp

import (
	"cmp"
	"container/list"
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Limits bound the store's memory: a laptop runs `workshop up` with the
// traffic generator for a whole day, so old data must go, not accumulate.
// Zero fields take the defaults.
type Limits struct {
	MaxTraces         int // traces kept; the oldest first seen is dropped first (default 500)
	MaxSpansPerTrace  int // further spans of a full trace are refused (default 1000)
	MaxLogsPerService int // log lines kept per service, newest win (default 2000)
	MaxLogServices    int // services with a log ring; the least recently logging goes (default 64)
}

// DefaultLimits are the limits of a store built with zero Limits.
var DefaultLimits = Limits{MaxTraces: 500, MaxSpansPerTrace: 1000, MaxLogsPerService: 2000, MaxLogServices: 64}

func (l Limits) withDefaults() Limits {
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	return Limits{
		MaxTraces:         pick(l.MaxTraces, DefaultLimits.MaxTraces),
		MaxSpansPerTrace:  pick(l.MaxSpansPerTrace, DefaultLimits.MaxSpansPerTrace),
		MaxLogsPerService: pick(l.MaxLogsPerService, DefaultLimits.MaxLogsPerService),
		MaxLogServices:    pick(l.MaxLogServices, DefaultLimits.MaxLogServices),
	}
}

// Stats counts what the store holds and what it had to let go.
type Stats struct {
	Traces, Spans, Logs int
	EvictedTraces       int // dropped to make room for newer traces
	RejectedSpans       int // refused: trace full, or no valid ids
}

// Store keeps recent spans, grouped by trace, and recent log lines, grouped
// by service. It is safe for concurrent use. Values it returns are
// snapshots that share attribute maps with the store: read them, do not
// modify them.
type Store struct {
	limits Limits

	mu      sync.RWMutex
	traces  map[string]*traceEntry
	order   *list.List // of *traceEntry, oldest first seen at the front
	logs    map[string]*logRing
	logSeq  uint64        // arrival counter, to find the least recently logging service
	changed chan struct{} // closed and replaced on every write
	stats   Stats
}

type traceEntry struct {
	id       string
	spans    []Span
	index    map[string]int // span id → position in spans, to replace a re-sent span
	start    time.Time      // earliest span start, for newest-first listing
	services []string
	elem     *list.Element
}

// NewStore returns an empty store bounded by limits.
func NewStore(limits Limits) *Store {
	return &Store{
		limits:  limits.withDefaults(),
		traces:  make(map[string]*traceEntry),
		order:   list.New(),
		logs:    make(map[string]*logRing),
		changed: make(chan struct{}),
	}
}

// Limits returns the store's effective limits.
func (s *Store) Limits() Limits { return s.limits }

// AddSpans stores spans and returns how many were refused: spans without a
// trace or span id, and spans beyond MaxSpansPerTrace. A span re-sent with
// the same ids (an exporter retry) replaces the first copy.
func (s *Store) AddSpans(spans ...Span) (rejected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	added := false
	for _, sp := range spans {
		sp.TraceID, sp.SpanID, sp.ParentSpanID = normID(sp.TraceID), normID(sp.SpanID), normID(sp.ParentSpanID)
		if sp.TraceID == "" || sp.SpanID == "" {
			rejected++
			continue
		}
		e := s.entry(sp.TraceID)
		if i, ok := e.index[sp.SpanID]; ok {
			e.spans[i] = sp
		} else if len(e.spans) >= s.limits.MaxSpansPerTrace {
			rejected++
			continue
		} else {
			e.index[sp.SpanID] = len(e.spans)
			e.spans = append(e.spans, sp)
			s.stats.Spans++
		}
		if len(e.spans) == 1 || sp.Start.Before(e.start) {
			e.start = sp.Start
		}
		if !slices.Contains(e.services, sp.Service) {
			e.services = append(e.services, sp.Service)
		}
		added = true
	}
	s.stats.RejectedSpans += rejected
	if added {
		s.notify()
	}
	return rejected
}

// entry finds or creates the trace's entry, evicting the oldest traces to
// stay within MaxTraces. The caller holds the write lock.
func (s *Store) entry(id string) *traceEntry {
	if e, ok := s.traces[id]; ok {
		return e
	}
	for len(s.traces) >= s.limits.MaxTraces {
		oldest := s.order.Remove(s.order.Front()).(*traceEntry)
		delete(s.traces, oldest.id)
		s.stats.Spans -= len(oldest.spans)
		s.stats.EvictedTraces++
	}
	e := &traceEntry{id: id, index: make(map[string]int)}
	e.elem = s.order.PushBack(e)
	s.traces[id] = e
	return e
}

// Traces returns up to limit traces (all when limit <= 0), the most
// recently started first.
func (s *Store) Traces(limit int) []Trace {
	s.mu.RLock()
	entries := make([]*traceEntry, 0, len(s.traces))
	for e := s.order.Front(); e != nil; e = e.Next() {
		entries = append(entries, e.Value.(*traceEntry))
	}
	slices.SortStableFunc(entries, func(a, b *traceEntry) int {
		return cmp.Or(b.start.Compare(a.start), cmp.Compare(a.id, b.id))
	})
	if limit > 0 && len(entries) > limit {
		entries = entries[:limit]
	}
	out := make([]Trace, len(entries))
	for i, e := range entries {
		out[i] = e.snapshot()
	}
	s.mu.RUnlock()
	return out
}

// Trace returns the trace with the given hex id.
func (s *Store) Trace(id string) (Trace, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.traces[normID(id)]
	if !ok {
		return Trace{}, false
	}
	return e.snapshot(), true
}

// HasTrace reports whether the trace is held, without copying it.
func (s *Store) HasTrace(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.traces[normID(id)]
	return ok
}

func (e *traceEntry) snapshot() Trace {
	return Trace{ID: e.id, Spans: slices.Clone(e.spans)}
}

// Services lists every service with a stored span or log line, sorted.
func (s *Store) Services() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for _, e := range s.traces {
		out = append(out, e.services...)
	}
	for name := range s.logs {
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.stats
	st.Traces = len(s.traces)
	for _, r := range s.logs {
		st.Logs += r.len()
	}
	return st
}

// Changed returns a channel that is closed at the next write to the store.
func (s *Store) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// WaitFor blocks until cond holds or ctx ends, evaluating cond now and after
// every write, so a check waits exactly as long as the telemetry takes to
// arrive instead of sleeping. cond may call the store's query methods.
func (s *Store) WaitFor(ctx context.Context, cond func(*Store) bool) error {
	for {
		// Take the channel before testing cond: a write between the two
		// closes this channel, so it cannot be missed.
		changed := s.Changed()
		if cond(s) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notify wakes the waiters. The caller holds the write lock.
func (s *Store) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// normID lowercases a hex id and maps the all-zero id, which OTLP uses for
// "none", to "".
func normID(id string) string {
	id = strings.ToLower(id)
	if strings.Trim(id, "0") == "" {
		return ""
	}
	return id
}
