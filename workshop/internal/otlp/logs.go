package otlp

import (
	"cmp"
	"slices"
)

// logRing keeps a service's most recent log records, oldest first from
// head.
type logRing struct {
	recs    []LogRecord
	sizes   []int
	head    int
	bytes   int
	lastSeq uint64 // store-wide arrival number of the newest record
}

func (r *logRing) add(rec LogRecord, size int, seq uint64) {
	r.recs = append(r.recs, rec)
	r.sizes = append(r.sizes, size)
	r.bytes += size
	r.lastSeq = seq
}

// dropOldest lets the oldest record go and returns its size.
func (r *logRing) dropOldest() int {
	size := r.sizes[r.head]
	r.recs[r.head] = LogRecord{}
	r.head++
	r.bytes -= size
	if r.head >= len(r.recs)-r.head { // compact: the slices do not grow for ever
		r.recs = append(r.recs[:0:0], r.recs[r.head:]...)
		r.sizes = append(r.sizes[:0:0], r.sizes[r.head:]...)
		r.head = 0
	}
	return size
}

func (r *logRing) len() int { return len(r.recs) - r.head }

// newestFirst appends the ring's records to out, newest arrival first.
func (r *logRing) newestFirst(out []LogRecord) []LogRecord {
	for i := len(r.recs) - 1; i >= r.head; i-- {
		out = append(out, r.recs[i])
	}
	return out
}

// AddLogs stores log records in their service's ring, cutting messages to
// MaxLogLineBytes and field values to MaxValueBytes.
func (s *Store) AddLogs(records ...LogRecord) {
	if len(records) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := bounder{maxValue: s.limits.MaxValueBytes}
	for _, rec := range records {
		rec.TraceID, rec.SpanID = normID(rec.TraceID), normID(rec.SpanID)
		if rec.Service == "" {
			rec.Service = unknownService
		}
		size := b.log(&rec, s.limits.MaxLogLineBytes)
		r, ok := s.logs[rec.Service]
		if !ok {
			s.evictLogService()
			r = &logRing{}
			s.logs[rec.Service] = r
		}
		s.logSeq++
		r.add(rec, size, s.logSeq)
		s.logSize += size
		if r.len() > s.limits.MaxLogsPerService {
			s.logSize -= r.dropOldest()
			s.stats.DroppedLogs++
		}
	}
	s.stats.TruncatedValues += b.truncated
	s.enforceBytes()
	s.notify()
}

// dropOldestLog lets go of the oldest line of the service holding the most
// bytes of lines. The caller holds the write lock and a line is held.
func (s *Store) dropOldestLog() {
	var busiest *logRing
	for _, r := range s.logs {
		if r.len() > 0 && (busiest == nil || r.bytes > busiest.bytes) {
			busiest = r
		}
	}
	s.logSize -= busiest.dropOldest()
	s.stats.DroppedLogs++
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
	s.logSize -= s.logs[victim].bytes
	s.stats.DroppedLogs += s.logs[victim].len()
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
