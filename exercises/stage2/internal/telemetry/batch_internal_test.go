package telemetry

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBatchOptionsLeaveTheVariableInCharge(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "")
	assert.Len(t, batchOptions(), 1, "one-second batches by default")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "250")
	assert.Empty(t, batchOptions(), "no option in code may override the variable")
}
