package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHugeIdentifierIsNotEchoed: the die-service repeats the identifier it
// was asked for in its 404, its log line and its span; a 100 KB one is cut.
func TestHugeIdentifierIsNotEchoed(t *testing.T) {
	rec, ts := newTestService(t, testCatalog)
	huge := strings.Repeat("i", 100<<10)
	status, body := get(t, ts, http.MethodGet, "/dice?identifier="+huge)
	assert.Equal(t, http.StatusNotFound, status)
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	assert.Less(t, len(raw), 1<<10)
	assert.Contains(t, string(raw), strings.Repeat("i", 16)+"…")
	for _, l := range rec.Logs(t) {
		line, _ := json.Marshal(l)
		assert.Less(t, len(line), 1<<10, "a log line: %.80s…", line)
	}
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if !strings.HasPrefix(string(kv.Key), "die.") {
				continue // otelhttp's url.path is the SDK's to bound (and the receiver cuts it)
			}
			assert.LessOrEqual(t, len(kv.Value.String()), 128, "span %s attribute %s", s.Name(), kv.Key)
		}
	}
}
