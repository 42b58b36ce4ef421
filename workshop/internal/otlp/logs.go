package otlp

import (
	"cmp"
	"slices"
)

// logRing keeps a service's most recent log records.
type logRing struct {
	buf     []LogRecord
	next    int    // where the next record goes
	lastSeq uint64 // store-wide arrival number of the newest record
}

func (r *logRing) add(rec LogRecord, max int, seq uint64) {
	if len(r.buf) < max {
		r.buf = append(r.buf, rec)
	} else {
		r.buf[r.next] = rec
	}
	r.next = (r.next + 1) % max
	r.lastSeq = seq
}

func (r *logRing) len() int { return len(r.buf) }

// newestFirst appends the ring's records to out, newest arrival first.
func (r *logRing) newestFirst(out []LogRecord) []LogRecord {
	n := len(r.buf)
	for i := range n {
		out = append(out, r.buf[(r.next-1-i+n)%n])
	}
	return out
}

// AddLogs stores log records in their service's ring.
func (s *Store) AddLogs(records ...LogRecord) {
	if len(records) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range records {
		rec.TraceID, rec.SpanID = normID(rec.TraceID), normID(rec.SpanID)
		if rec.Service == "" {
			rec.Service = unknownService
		}
		r, ok := s.logs[rec.Service]
		if !ok {
			s.evictLogService()
			r = &logRing{}
			s.logs[rec.Service] = r
		}
		s.logSeq++
		r.add(rec, s.limits.MaxLogsPerService, s.logSeq)
	}
	s.notify()
}

// evictLogService makes room for one more service's ring by dropping the
// ring that was written least recently. The caller holds the write lock.
func (s *Store) evictLogService() {
	if len(s.logs) < s.limits.MaxLogServices {
		return
	}
	var victim string
	var oldest uint64
	for name, r := range s.logs {
		if victim == "" || r.lastSeq < oldest {
			victim, oldest = name, r.lastSeq
		}
	}
	delete(s.logs, victim)
}

// Logs returns up to limit records (all when limit <= 0) of one service, or
// of every service when service is "", the newest first.
func (s *Store) Logs(service string, limit int) []LogRecord {
	s.mu.RLock()
	var out []LogRecord
	if service != "" {
		if r, ok := s.logs[service]; ok {
			out = r.newestFirst(out)
		}
	} else {
		for _, r := range s.logs {
			out = r.newestFirst(out)
		}
	}
	s.mu.RUnlock()

	// Rings are in arrival order, which is time order for one process's
	// stdout; sorting by time also merges services and late OTLP batches.
	slices.SortStableFunc(out, func(a, b LogRecord) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(a.Service, b.Service))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
