package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/go-o11y-workshop/kit/stages/stage1/internal/service"
)

// TestHugeInputIsNotEchoed: a 100 KB die came back whole in the error
// answer and went whole into the log lines and the span. What the service
// repeats of a client's input is cut to service.MaxParamBytes.
func TestHugeInputIsNotEchoed(t *testing.T) {
	env := newRollerEnv(t, testConfig(), nil)
	huge := strings.Repeat("d", 100<<10)
	for _, path := range []string{"/roll?die=" + huge, "/" + huge} {
		a := env.get(t, path)
		assert.Less(t, len(a.raw), 1<<10, "the answer to %.40s…", path)
		if a.status == http.StatusBadRequest || a.status == http.StatusNotFound {
			assert.Contains(t, a.errorMessage(t), strings.Repeat("d", 16), "the input is still named")
			assert.Contains(t, a.errorMessage(t), "…", "and its cut shows")
		}
	}
	for _, l := range env.rec.Logs(t) {
		line, _ := json.Marshal(l)
		assert.Less(t, len(line), 1<<10, "a log line: %.80s…", line)
	}
	for _, s := range env.rec.Ended() {
		for _, kv := range s.Attributes() {
			if !strings.HasPrefix(string(kv.Key), "die.") {
				continue // otelhttp's url.path is the SDK's to bound (and the receiver cuts it)
			}
			assert.LessOrEqual(t, len(kv.Value.String()), service.MaxParamBytes+len("…"), "span %s attribute %s", s.Name(), kv.Key)
		}
	}
}
