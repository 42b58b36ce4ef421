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
// traffic generator for a whole day, so old data must go, not accumulate;
// and whatever a stranger sends is bounded in bytes, not only in count.
// Zero fields take the defaults.
type Limits struct {
	MaxTraces         int // traces kept; the oldest of the sender holding the most goes first (default 500)
	MaxSpansPerTrace  int // further spans of a full trace are refused (default 1000)
	MaxLogsPerService int // log lines kept per service, newest win (default 2000)
	MaxLogServices    int // services with a log ring; the least recently logging goes (default 64)

	// One export request (one AddSpans call) may bring at most
	// MaxSpansPerRequest spans and start at most MaxNewTracesPerRequest
	// traces; the rest are refused. So one request cannot push out every
	// trace held (default 2048 spans, a quarter of MaxTraces).
	MaxSpansPerRequest     int
	MaxNewTracesPerRequest int
	// MaxValueBytes cuts every string value (attribute, span name, status
	// message, log field) and MaxLogLineBytes a log line's message, marked
	// with TruncatedMark (defaults 4 KB and 16 KB).
	MaxValueBytes   int
	MaxLogLineBytes int
	// MaxBytes bounds what the store holds, approximately, spans and log
	// lines together: beyond it the oldest traces of the busiest sender, or
	// the oldest lines of the busiest service, go (default 64 MB).
	MaxBytes int
}

// DefaultLimits are the limits of a store built with zero Limits.
var DefaultLimits = Limits{MaxTraces: 500, MaxSpansPerTrace: 1000, MaxLogsPerService: 2000, MaxLogServices: 64,
	MaxSpansPerRequest: 2048, MaxValueBytes: 4 << 10, MaxLogLineBytes: 16 << 10, MaxBytes: 64 << 20}

func (l Limits) withDefaults() Limits {
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	out := Limits{
		MaxTraces:          pick(l.MaxTraces, DefaultLimits.MaxTraces),
		MaxSpansPerTrace:   pick(l.MaxSpansPerTrace, DefaultLimits.MaxSpansPerTrace),
		MaxLogsPerService:  pick(l.MaxLogsPerService, DefaultLimits.MaxLogsPerService),
		MaxLogServices:     pick(l.MaxLogServices, DefaultLimits.MaxLogServices),
		MaxSpansPerRequest: pick(l.MaxSpansPerRequest, DefaultLimits.MaxSpansPerRequest),
		MaxValueBytes:      pick(l.MaxValueBytes, DefaultLimits.MaxValueBytes),
		MaxLogLineBytes:    pick(l.MaxLogLineBytes, DefaultLimits.MaxLogLineBytes),
		MaxBytes:           pick(l.MaxBytes, DefaultLimits.MaxBytes),
	}
	out.MaxNewTracesPerRequest = pick(l.MaxNewTracesPerRequest, max(1, out.MaxTraces/4))
	return out
}

// Stats counts what the store holds and what it had to let go.
type Stats struct {
	Traces, Spans, Logs int
	Bytes               int // approximate size of what is held
	EvictedTraces       int // dropped to make room for newer traces
	RejectedSpans       int // refused: trace full, request over its bounds, or no valid ids
	TruncatedValues     int // strings and log lines cut to their limit
	DroppedLogs         int // older log lines let go for newer ones
}

// LetGo reports whether the store dropped, refused or cut anything.
func (st Stats) LetGo() bool {
	return st.EvictedTraces+st.RejectedSpans+st.TruncatedValues+st.DroppedLogs > 0
}

// Store keeps recent spans, grouped by trace, and recent log lines, grouped
// by service. It is safe for concurrent use. It takes the spans and
// records it is given, maps included (it cuts their values to its limits).
// Values it returns are snapshots that share attribute maps with the store:
// read them, do not modify them.
type Store struct {
	limits Limits

	mu       sync.RWMutex
	traces   map[string]*traceEntry
	order    *list.List     // of *traceEntry, oldest first seen at the front
	owners   map[string]int // traces held per owner (the service that started them)
	logs     map[string]*logRing
	logSeq   uint64        // arrival counter, to find the least recently logging service
	changed  chan struct{} // closed and replaced on every write
	stats    Stats
	spanSize int // bytes of the spans held
	logSize  int // bytes of the log lines held
}

type traceEntry struct {
	id       string
	owner    string // the service of its first span: who is charged for it
	spans    []Span
	sizes    []int          // each span's size
	index    map[string]int // span id → position in spans, to replace a re-sent span
	start    time.Time      // earliest span start, for newest-first listing
	services []string
	bytes    int
	elem     *list.Element
}

// NewStore returns an empty store bounded by limits.
func NewStore(limits Limits) *Store {
	return &Store{
		limits:  limits.withDefaults(),
		traces:  make(map[string]*traceEntry),
		order:   list.New(),
		owners:  make(map[string]int),
		logs:    make(map[string]*logRing),
		changed: make(chan struct{}),
	}
}

// Limits returns the store's effective limits.
func (s *Store) Limits() Limits { return s.limits }

// AddSpans stores the spans of one export request and returns how many were
// refused: spans without a trace or span id, spans beyond MaxSpansPerTrace,
// and what exceeds the request's bounds (MaxSpansPerRequest,
// MaxNewTracesPerRequest). A span re-sent with the same ids (an exporter
// retry) replaces the first copy. Values are cut to MaxValueBytes.
func (s *Store) AddSpans(spans ...Span) (rejected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := bounder{maxValue: s.limits.MaxValueBytes}
	added, newTraces := false, 0
	for i, sp := range spans {
		sp.TraceID, sp.SpanID, sp.ParentSpanID = normID(sp.TraceID), normID(sp.SpanID), normID(sp.ParentSpanID)
		if sp.TraceID == "" || sp.SpanID == "" || i >= s.limits.MaxSpansPerRequest {
			rejected++
			continue
		}
		e, ok := s.traces[sp.TraceID]
		if !ok {
			if newTraces >= s.limits.MaxNewTracesPerRequest {
				rejected++
				continue
			}
			newTraces++
		}
		if ok && len(e.spans) >= s.limits.MaxSpansPerTrace {
			if _, resent := e.index[sp.SpanID]; !resent {
				rejected++
				continue
			}
		}
		size := b.span(&sp)
		if !ok {
			e = s.newEntry(sp.TraceID, sp.Service)
		}
		if i, ok := e.index[sp.SpanID]; ok {
			e.spans[i] = sp
			e.bytes += size - e.sizes[i]
			s.spanSize += size - e.sizes[i]
			e.sizes[i] = size
		} else {
			e.index[sp.SpanID] = len(e.spans)
			e.spans = append(e.spans, sp)
			e.sizes = append(e.sizes, size)
			e.bytes += size
			s.spanSize += size
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
	s.stats.TruncatedValues += b.truncated
	s.enforceBytes()
	if added {
		s.notify()
	}
	return rejected
}

// newEntry creates the trace's entry, evicting traces to stay within
// MaxTraces. The caller holds the write lock.
func (s *Store) newEntry(id, owner string) *traceEntry {
	for len(s.traces) >= s.limits.MaxTraces {
		s.evictTrace()
	}
	e := &traceEntry{id: id, owner: owner, index: make(map[string]int)}
	e.elem = s.order.PushBack(e)
	s.traces[id] = e
	s.owners[owner]++
	return e
}

// evictTrace drops the oldest trace of the owner holding the most traces,
// so one sender's flood pushes out its own traces before anyone else's.
// The caller holds the write lock and the store holds a trace.
func (s *Store) evictTrace() {
	var busiest string
	for owner, n := range s.owners {
		if n > s.owners[busiest] || n == s.owners[busiest] && owner < busiest {
			busiest = owner
		}
	}
	el := s.order.Front()
	for el.Value.(*traceEntry).owner != busiest {
		el = el.Next()
	}
	e := s.order.Remove(el).(*traceEntry)
	delete(s.traces, e.id)
	if s.owners[e.owner]--; s.owners[e.owner] == 0 {
		delete(s.owners, e.owner)
	}
	s.stats.Spans -= len(e.spans)
	s.spanSize -= e.bytes
	s.stats.EvictedTraces++
}

// enforceBytes lets go of the oldest traces and log lines, the larger
// side first, until the store is within MaxBytes. The caller holds the
// write lock.
func (s *Store) enforceBytes() {
	for s.spanSize+s.logSize > s.limits.MaxBytes {
		switch {
		case s.spanSize >= s.logSize && len(s.traces) > 0:
			s.evictTrace()
		case s.logSize > 0:
			s.dropOldestLog()
		default:
			return
		}
	}
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
	st.Bytes = s.spanSize + s.logSize
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
