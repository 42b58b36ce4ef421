package otlp

import (
	"maps"
	"slices"
	"unicode/utf8"
)

// TruncatedMark ends a value the store cut to its limit.
const TruncatedMark = "…[truncated]"

// truncate cuts s to at most max bytes, TruncatedMark included, on a rune
// boundary. ok is false when s had to be cut.
func truncate(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, true
	}
	cut := max - len(TruncatedMark)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + TruncatedMark, false
}

// bounder cuts the values of one batch to the store's limits, counting
// the values it cut, and sizes what it keeps.
type bounder struct {
	maxValue  int
	truncated int
}

func (b *bounder) str(s *string, max int) {
	var ok bool
	if *s, ok = truncate(*s, max); !ok {
		b.truncated++
	}
}

// value bounds one attribute value and returns it with its size.
func (b *bounder) value(v any) (any, int) {
	switch v := v.(type) {
	case string:
		b.str(&v, b.maxValue)
		return v, len(v) + 16
	case []byte:
		if len(v) > b.maxValue {
			b.truncated++
			v = v[:b.maxValue:b.maxValue]
		}
		return v, len(v) + 24
	case []any:
		n := 24
		for i, x := range v {
			var size int
			v[i], size = b.value(x)
			n += size
		}
		return v, n
	case map[string]any:
		return v, b.attrs(v)
	}
	return v, 16
}

// attrs bounds a map's keys and values in place and returns its size.
func (b *bounder) attrs(m map[string]any) int {
	var long []string
	for k := range m {
		if len(k) > b.maxValue { // keys too: a 15 MB key weighs what a value does
			long = append(long, k)
		}
	}
	for _, k := range long {
		v := m[k]
		delete(m, k)
		b.str(&k, b.maxValue)
		m[k] = v
	}
	n := 48
	for k, v := range m {
		var size int
		m[k], size = b.value(v)
		n += len(k) + size + 16
	}
	return n
}

// span bounds a span's strings and values in place and returns its size.
// Resource maps are shared by the spans of one export; bounding one twice
// changes nothing.
func (b *bounder) span(sp *Span) int {
	b.str(&sp.Name, b.maxValue)
	b.str(&sp.Scope, b.maxValue)
	b.str(&sp.Service, b.maxValue)
	b.str(&sp.StatusMessage, b.maxValue)
	n := 256 + len(sp.Name) + len(sp.Scope) + len(sp.Service) + len(sp.StatusMessage) +
		b.attrs(sp.Attributes) + b.attrs(sp.Resource)
	for i := range sp.Events {
		ev := &sp.Events[i]
		b.str(&ev.Name, b.maxValue)
		n += 64 + len(ev.Name) + b.attrs(ev.Attributes)
	}
	return n
}

// log bounds a log record in place (its message to maxLine) and returns
// its size.
func (b *bounder) log(rec *LogRecord, maxLine int) int {
	b.str(&rec.Message, maxLine)
	b.str(&rec.Service, b.maxValue)
	b.str(&rec.Level, b.maxValue)
	n := 128 + len(rec.Message) + len(rec.Service) + len(rec.Level) + len(rec.TraceID) + len(rec.SpanID)
	fields := b.attrs(rec.Fields)
	if fields > maxLine { // many fields: keep the first (by key) within a line's bytes
		keys := slices.Sorted(maps.Keys(rec.Fields))
		kept := map[string]any{}
		fields = 48
		for _, k := range keys {
			size := b.attrs(map[string]any{k: rec.Fields[k]})
			if fields+size > maxLine {
				break
			}
			kept[k] = rec.Fields[k]
			fields += size
		}
		rec.Fields = kept
		b.truncated++
	}
	return n + fields
}
