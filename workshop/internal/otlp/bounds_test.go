package otlp

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestTruncate(t *testing.T) {
	s, ok := truncate("short", 100)
	assert.True(t, ok)
	assert.Equal(t, "short", s)

	long := strings.Repeat("é", 100) // 2 bytes each: a cut may fall inside one
	for _, max := range []int{20, 21, 50, len(TruncatedMark)} {
		s, ok := truncate(long, max)
		assert.False(t, ok)
		assert.LessOrEqual(t, len(s), max)
		assert.True(t, utf8.ValidString(s), "cut on a rune boundary: %q", s)
		assert.True(t, strings.HasSuffix(s, TruncatedMark))
		again, ok := truncate(s, max)
		assert.True(t, ok, "cutting twice changes nothing (resource maps are shared)")
		assert.Equal(t, s, again)
	}
}

func TestBounderCutsKeysAndNestedValues(t *testing.T) {
	b := bounder{maxValue: 32}
	big := strings.Repeat("k", 100)
	m := map[string]any{big: 1, "list": []any{big, int64(3)}, "map": map[string]any{"v": []byte(big)}}
	b.attrs(m)
	assert.Equal(t, 3, b.truncated)
	for k := range m {
		assert.LessOrEqual(t, len(k), 32)
	}
	assert.LessOrEqual(t, len(m["list"].([]any)[0].(string)), 32)
	assert.Len(t, m["map"].(map[string]any)["v"].([]byte), 32)
}

func TestBounderKeepsALogLineWithinItsBytes(t *testing.T) {
	b := bounder{maxValue: 4 << 10}
	rec := LogRecord{Message: "many fields", Fields: map[string]any{}}
	for i := range 1000 {
		rec.Fields[strings.Repeat("f", 4)+string(rune('a'+i%26))+strings.Repeat("x", i)] = strings.Repeat("v", 4<<10)
	}
	size := b.log(&rec, 16<<10)
	assert.LessOrEqual(t, size, 2*(16<<10))
	assert.NotEmpty(t, rec.Fields, "the first fields are kept")
	assert.Less(t, len(rec.Fields), 1000)
}
