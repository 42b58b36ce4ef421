package class

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// joinFrom joins the class from a fresh checkout folder.
func joinFrom(t *testing.T, tc *testClass, name string) (string, *Membership) {
	t.Helper()
	root := t.TempDir()
	m, err := Join(context.Background(), tc.client, tc.URL, tc.Code(), name, nil)
	require.NoError(t, err)
	require.NoError(t, m.Save(root))
	return root, m
}

func TestJoinSaveAndLeave(t *testing.T) {
	tc := startClass(t, Options{Telemetry: "http://tempo-collector:4318"})
	root, m := joinFrom(t, tc, "Sam")
	assert.Equal(t, tc.URL, m.URL)
	assert.Equal(t, "sam", m.Learner)

	fi, err := os.Stat(MembershipPath(root))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the token is for its owner only")
	loaded, err := LoadMembership(root)
	require.NoError(t, err)
	assert.Equal(t, m.Token, loaded.Token)
	endpoint, withToken := loaded.TelemetryEndpoint()
	assert.Equal(t, "http://tempo-collector:4318", endpoint, "the instructor's collector, for --share")
	assert.False(t, withToken, "the class token never goes to a collector")

	// Joining again from the same checkout keeps the row.
	again, err := Join(context.Background(), tc.client, tc.URL+"/", tc.Code(), "Sam K.", loaded)
	require.NoError(t, err)
	assert.Equal(t, "sam", again.Learner)
	assert.Equal(t, "Sam K.", again.Name)

	left, err := Leave(root)
	require.NoError(t, err)
	assert.True(t, left)
	left, err = Leave(root)
	require.NoError(t, err)
	assert.False(t, left)
	gone, err := LoadMembership(root)
	require.NoError(t, err)
	assert.Nil(t, gone)

	_, err = Join(context.Background(), tc.client, tc.URL, "BADCODE", "Ann", nil)
	assert.ErrorContains(t, err, "wrong class code")
	_, err = Join(context.Background(), tc.client, "ftp://x", tc.Code(), "Ann", nil)
	assert.ErrorContains(t, err, "is not the class's URL")
	u, err := NormalizeURL(" 10.0.0.5:8200/ ")
	require.NoError(t, err)
	assert.Equal(t, "http://10.0.0.5:8200", u)

	require.NoError(t, os.WriteFile(MembershipPath(root), []byte("{"), 0o600))
	_, err = LoadMembership(root)
	assert.ErrorContains(t, err, "is damaged")
}

// deadURL is a loopback address where nothing listens.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

func TestDeliverWhenTheBoardIsDownRetriesWithTheNextCheck(t *testing.T) {
	tc := startClass(t, Options{})
	root, m := joinFrom(t, tc, "Sam")
	client := &http.Client{}
	defer client.CloseIdleConnections()

	// The board is unreachable: the result is kept, the line says so.
	down := *m
	down.URL = deadURL(t)
	d := Deliver(context.Background(), client, root, &down, 3, result(3, "api@3.2", "!lookup-metrics@3.2"), time.Now().Add(-time.Minute))
	assert.False(t, d.Posted)
	assert.True(t, d.Retry)
	assert.Equal(t, 1, d.Kept)
	assert.Contains(t, d.Notice(&down), "class: the board did not take this result (")
	assert.Contains(t, d.Notice(&down), "it goes with your next check. Your check is not affected.")
	assert.FileExists(t, pendingPath(root))

	// The next check delivers both.
	d = Deliver(context.Background(), client, root, m, 4, result(4, "api@4.1", "!async-children@4.2"), time.Now())
	assert.True(t, d.Posted)
	assert.Equal(t, 1, d.Earlier)
	assert.Zero(t, d.Kept)
	assert.Equal(t, "class: result posted to the board at "+tc.URL+" as Sam, with 1 earlier result(s) that had not reached it", d.Notice(m))
	assert.NoFileExists(t, pendingPath(root))
	r := tc.roster()[0]
	require.Contains(t, r.Results, 3)
	require.Contains(t, r.Results, 4)
	assert.Equal(t, "step 4.2", tc.board("name", "").Rows[0].Position, "the retried older result did not move the learner back")
	assert.True(t, r.Results[3].CheckedAt.Before(r.Results[4].CheckedAt), "the retried result keeps the time its check ran")
}

func TestDeliverKeepsTheNewestOfEachStage(t *testing.T) {
	root := t.TempDir()
	m := &Membership{URL: deadURL(t), Name: "Sam", Token: "t"}
	client := &http.Client{}
	d := Deliver(context.Background(), client, root, m, 1, result(1, "api@1.3"), time.Now())
	assert.Equal(t, 1, d.Kept)
	d = Deliver(context.Background(), client, root, m, 2, result(2, "api@2.1"), time.Now())
	assert.Equal(t, 2, d.Kept, "stage 2's, and stage 1's, not tried again: the board is down")
	d = Deliver(context.Background(), client, root, m, 2, result(2, "!api@2.1"), time.Now())
	assert.Equal(t, 2, d.Kept, "a newer result of stage 2 replaces the one waiting")

	// The board is back but forgot this checkout (the class was reset).
	tc := startClass(t, Options{})
	m.URL = tc.URL
	d = Deliver(context.Background(), tc.client, root, m, 3, result(3, "api@3.2"), time.Now())
	assert.True(t, d.Gone)
	assert.Contains(t, d.Notice(m), "join again with workshop class join")
	assert.NoFileExists(t, pendingPath(root), "nothing is kept for a class that forgot this checkout")
}

func TestDeliverGivesUpAfterOneRetry(t *testing.T) {
	root := t.TempDir()
	m := &Membership{URL: deadURL(t), Name: "Sam", Token: "t"}
	client := &http.Client{}
	Deliver(context.Background(), client, root, m, 1, result(1, "api@1.3"), time.Now())
	// The board answers but refuses (500: a disk full), twice.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"saving the result: disk full"}`, http.StatusInternalServerError)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	defer client.CloseIdleConnections()
	m.URL = "http://" + ln.Addr().String()
	d := Deliver(context.Background(), client, root, m, 2, result(2, "api@2.1"), time.Now())
	assert.Equal(t, 1, d.Dropped, "stage 1's result had its one retry")
	assert.Equal(t, 1, d.Kept, "stage 2's waits for its own")
	d = Deliver(context.Background(), client, root, m, 3, result(3, "api@3.2"), time.Now())
	assert.Equal(t, 1, d.Dropped)
	assert.Equal(t, 1, d.Kept)
}

// TestDeliverToASlowBoardIsBounded: a board that never answers costs the
// check at most PostTimeout, and the request is abandoned, not left open.
func TestDeliverToASlowBoardIsBounded(t *testing.T) {
	release := make(chan struct{})
	abandoned := make(chan struct{}, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leaving
		select {
		case <-r.Context().Done():
			abandoned <- struct{}{}
		case <-release:
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	defer close(release)

	root := t.TempDir()
	m := &Membership{URL: "http://" + ln.Addr().String(), Name: "Sam", Token: "t"}
	client := &http.Client{}
	defer client.CloseIdleConnections()
	d := Deliver(context.Background(), client, root, m, 1, result(1, "api@1.3"), time.Now())
	// Deliver returned while the board still holds the request: the
	// handler only ends when the client gives up or the test releases it.
	select {
	case <-abandoned:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request was not abandoned")
	}
	assert.False(t, d.Posted)
	assert.True(t, d.Retry)
	assert.Contains(t, d.Notice(m), "no answer in time")
	assert.FileExists(t, filepath.Join(root, ".workshop", "class-pending.json"))
}
