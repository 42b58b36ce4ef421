package check

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/runtime"
)

// cancelOn cancels a context when a progress line contains a phrase: a
// Ctrl-C at a known moment of the run.
type cancelOn struct {
	phrase string
	cancel context.CancelFunc
	once   sync.Once
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.phrase) {
		c.once.Do(c.cancel)
	}
	return len(p), nil
}

// TestInterruptedCheckLeavesNothing interrupts a docker check while its
// stage is running: Run returns the interruption, and no container, network
// or image of this process is left.
func TestInterruptedCheckLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 2 in containers")
	}
	if _, err := runtime.DetectEngine(t.Context()); err != nil {
		if isCI() {
			t.Fatalf("CI=true but %v", err)
		}
		t.Skipf("skipping the docker interruption test: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res, err := Run(ctx, Options{Stage: 2, Dir: referenceDir(t, 2), Runtime: "docker",
		Progress: &cancelOn{phrase: "sending traffic", cancel: cancel}})
	require.True(t, errors.Is(err, context.Canceled), "Run reports the interruption, got %v", err)
	require.NotNil(t, res)
	assert.Empty(t, res.Outcomes, "no report card for an interrupted run")

	left, err := runtime.Sweep(t.Context(), true)
	require.NoError(t, err)
	assert.Equal(t, runtime.Leftovers{}, left, "the interrupted run removed its containers, network and images")
}

func isCI() bool { return os.Getenv("CI") == "true" }
