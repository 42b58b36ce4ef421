package main

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRelayForwardsBothWaysAndHalfCloses: bytes go through a route both
// ways, and a client's end of input reaches the target (an HTTP/1.0-style
// exchange that reads to EOF completes). A route whose target does not
// answer closes the client's connection.
func TestRelayForwardsBothWaysAndHalfCloses(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				in, _ := io.ReadAll(c) // until the client's half-close
				_, _ = c.Write(append([]byte("echo: "), in...))
			}()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go serve(ln, target.Addr().String())
	defer ln.Close()

	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("hello"))
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(bufio.NewReader(c))
	require.NoError(t, err)
	assert.Equal(t, "echo: hello", string(got))

	gone, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadTarget := gone.Addr().String()
	gone.Close()
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go serve(ln2, deadTarget)
	defer ln2.Close()
	c2, err := net.Dial("tcp", ln2.Addr().String())
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, c2.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, err := c2.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, io.EOF, "closed, not left hanging")
}
