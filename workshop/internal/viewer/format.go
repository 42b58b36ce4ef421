package viewer

import (
	"fmt"
	"hash/fnv"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

func (v *viewer) funcs() template.FuncMap {
	return template.FuncMap{
		"dur":     formatDuration,
		"inc":     func(n int) int { return n + 1 },
		"pct":     formatPercent,
		"clock":   formatClock,
		"shortID": shortID,
		"color":   v.colors.of,
		"value":   formatValue,
		"attrs":   sortedAttrs,
		"base":    func() string { return v.opts.BasePath },
	}
}

// paletteSize is the number of service colours in style.css (.svc-0 …).
// Red is not among them: it means error.
const paletteSize = 8

// palette gives each service a colour that stays the same on every page.
// The stage's own services (the viewer's Options) take the first colours
// in name order, so they never share one; any other service hashes to one.
type palette struct{ known []string }

func newPalette(services []string) palette {
	known := slices.Clone(services)
	slices.Sort(known)
	return palette{known}
}

func (p palette) of(service string) int {
	if i := slices.Index(p.known, service); i >= 0 && i < paletteSize {
		return i
	}
	h := fnv.New32a()
	h.Write([]byte(service))
	return int(h.Sum32() % paletteSize)
}

// formatDuration prints a duration with three significant digits, in the
// unit a person reads fastest: 850µs, 12.3ms, 1.25s.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < 0:
		return "-" + formatDuration(-d)
	case d < time.Microsecond:
		return strconv.FormatInt(d.Nanoseconds(), 10) + "ns"
	case d < time.Millisecond:
		return sig3(float64(d)/float64(time.Microsecond)) + "µs"
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + "ms"
	case d < time.Minute:
		return sig3(d.Seconds()) + "s"
	}
	return d.Round(time.Second).String()
}

// sig3 rounds to three significant digits and drops trailing zeros.
func sig3(f float64) string {
	decimals := 2
	switch {
	case f >= 99.95:
		decimals = 0
	case f >= 9.995:
		decimals = 1
	}
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// formatPercent prints a bar position for a style attribute.
func formatPercent(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

func formatClock(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.Local().Format("15:04:05.000")
}

// shortID is the first 8 hex digits, enough to tell traces apart on a page.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// formatValue prints an attribute or log field value; strings unquoted.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			if s, ok := x.(string); ok {
				parts[i] = strconv.Quote(s)
			} else {
				parts[i] = formatValue(x)
			}
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		var parts []string
		for _, a := range sortedAttrs(v) {
			parts = append(parts, a.Key+"="+a.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []byte:
		return fmt.Sprintf("0x%x", v)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// attr is a key and its printed value, with its type for a tooltip.
type attr struct {
	Key, Value, Type string
}

func sortedAttrs(m map[string]any) []attr {
	out := make([]attr, 0, len(m))
	for k, v := range m {
		out = append(out, attr{Key: k, Value: formatValue(v), Type: typeName(v)})
	}
	slices.SortFunc(out, func(a, b attr) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// typeName is an attribute's OTLP type: the lesson cares that die.result
// is an int, not the string "4".
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "int"
	case float64:
		return "double"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "map"
	case []byte:
		return "bytes"
	}
	return fmt.Sprintf("%T", v)
}

// serviceTag is a service name with its colour, for legends and lists.
type serviceTag struct {
	Name  string
	Color int
}

func (p palette) tags(names []string) []serviceTag {
	out := make([]serviceTag, len(names))
	for i, n := range names {
		out[i] = serviceTag{n, p.of(n)}
	}
	return out
}

// errorCount counts the spans with an Error status.
func errorCount(spans []otlp.Span) int {
	n := 0
	for _, s := range spans {
		if s.IsError() {
			n++
		}
	}
	return n
}
