package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHugeInputIsNotEchoed: the frontend repeats the die it was asked for
// in its 400, its log lines and its spans, and passes it on to the
// dice-roller; a 100 KB die is cut to service.MaxParamBytes everywhere.
func TestHugeInputIsNotEchoed(t *testing.T) {
	s := newStack(t, nil)
	huge := strings.Repeat("d", 100<<10)
	for _, path := range []string{"/roll?die=" + huge, "/" + huge} {
		_, body, _ := get(t, s.frontend.URL+path)
		assert.Less(t, len(body), 1<<10, "the answer to %.40s…", path)
	}
	for _, l := range s.frontend.rec.Logs(t) {
		line, _ := json.Marshal(l)
		assert.Less(t, len(line), 1<<10, "a log line: %.80s…", line)
	}
	for _, sp := range s.frontend.rec.Ended() {
		for _, kv := range sp.Attributes() {
			if !strings.HasPrefix(string(kv.Key), "die.") {
				continue // otelhttp's url.path is the SDK's to bound (and the receiver cuts it)
			}
			assert.LessOrEqual(t, len(kv.Value.String()), 128, "span %s attribute %s", sp.Name(), kv.Key)
		}
	}
	for _, c := range s.diceRoller.Calls() {
		assert.Less(t, len(c.Query.Encode()), 1<<10, "what reaches the dice-roller")
	}
}
