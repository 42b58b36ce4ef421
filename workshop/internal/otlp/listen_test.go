package otlp_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

func TestListenAndServeUntilCancelled(t *testing.T) {
	ln, err := otlp.Listen("127.0.0.1:0")
	require.NoError(t, err)

	_, err = otlp.Listen(ln.Addr().String())
	require.ErrorIs(t, err, otlp.ErrAddrInUse, "a taken port is recognisable, so `up` can use whoever holds it")

	store := otlp.NewStore(otlp.Limits{})
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- otlp.Serve(ctx, ln, otlp.NewReceiver(store)) }()

	traceID, _, _, _ := exportTwoServiceTrace(t, "http://"+ln.Addr().String())
	_, ok := store.Trace(traceID)
	assert.True(t, ok)

	cancel()
	assert.NoError(t, <-served, "a cancelled context is a clean stop")
}
