package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/class"
	"github.com/go-o11y-workshop/kit/workshop/internal/files"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// classServer runs a class on loopback for the test; stop it early to
// have the board go down.
type testClass struct {
	*class.Server
	url  string
	stop func()
}

func startTestClass(t *testing.T, dir string, addr string) *testClass {
	t.Helper()
	srv, err := class.New(class.Options{DataDir: dir})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	tc := &testClass{Server: srv, url: "http://" + ln.Addr().String()}
	stopped := false
	tc.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		assert.NoError(t, <-served)
		assert.NoError(t, srv.Close())
	}
	t.Cleanup(tc.stop)
	return tc
}

func exportRows(t *testing.T, url string) []class.ExportRow {
	t.Helper()
	resp, err := http.Get(url + "/export.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	var rows []class.ExportRow
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rows))
	return rows
}

func TestClassUsageErrors(t *testing.T) {
	root := fixtureRepo(t)
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"class", "nope"}, `unknown class command "nope"; valid: serve, join, leave, status, export, load`},
		{[]string{"class", "join"}, "class join needs the class's URL and code"},
		{[]string{"class", "join", "http://x:8200", "ABCDEF"}, `class join needs your name for the board: --name "Your Name"`},
		{[]string{"class", "serve", "extra"}, "class serve takes no arguments"},
		{[]string{"class", "serve", "--code", "a"}, "use 4 to 16 letters and digits"},
		{[]string{"class", "serve", "--telemetry", "ftp://x"}, "--telemetry"},
		{[]string{"class", "export", "--csv", "--json"}, "choose one of --csv and --json"},
		{[]string{"class", "load", "--learners", "0"}, "--learners must be from 1 to 1000"},
		{[]string{"class", "load", "--url", "http://x"}, "--url and --code go together"},
		{[]string{"up", "1", "--share", "--no-viewer"}, "--share copies what the built-in receiver gets"},
		{[]string{"up", "1", "--share"}, "this checkout joined none: workshop class join URL CODE"},
		{[]string{"up", "1", "--share=ftp://x"}, "is not the class's URL"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := run(t, root, tt.args...)
			assert.Equal(t, 2, code, stderr)
			assert.Contains(t, stderr, tt.wantErr)
		})
	}
	code, _, stderr := run(t, root, "class", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "join URL CODE --name NAME")
}

func TestClassJoinStatusLeave(t *testing.T) {
	root := fixtureRepo(t)
	tc := startTestClass(t, t.TempDir(), "127.0.0.1:0")

	_, out, _ := run(t, root, "class")
	assert.Contains(t, out, "this checkout is in no class")

	code, _, stderr := run(t, root, "class", "join", tc.url, "WRONG7", "--name", "Sam")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "joining the class: wrong class code")

	code, out, stderr = run(t, root, "class", "join", strings.TrimPrefix(tc.url, "http://"), strings.ToLower(tc.Code()), "--name", "Sam")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "joined the class at "+tc.url+" as Sam.")
	assert.Contains(t, out, "every `workshop check N` also posts its result")
	assert.FileExists(t, class.MembershipPath(root))

	_, out, _ = run(t, root, "class", "status")
	assert.Contains(t, out, "in the class at "+tc.url+" as Sam (your row: "+tc.url+"/learners/sam)")

	code, out, _ = run(t, root, "class", "leave")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "left the class at "+tc.url)
	assert.NoFileExists(t, class.MembershipPath(root))
	_, out, _ = run(t, root, "class", "leave")
	assert.Contains(t, out, "this checkout is in no class.")
}

func TestClassExportAfterTheDay(t *testing.T) {
	root := fixtureRepo(t)
	data := filepath.Join(root, ".workshop", "class")
	tc := startTestClass(t, data, "127.0.0.1:0")
	code, _, stderr := run(t, root, "class", "join", tc.url, tc.Code(), "--name", "Ada")
	require.Equal(t, 0, code, stderr)
	postToClass(&Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}, root, 1, repo.ExerciseDir(root, 1), fakeResult(1, true))

	code, _, stderr = run(t, root, "class", "export")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "the class server is running")
	tc.stop()
	code, out, stderr := run(t, root, "class", "export", "--csv")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "learner,stage1_passed,stage1_total,stage2_passed,stage2_total,stage3_passed,stage3_total,stage4_passed,stage4_total,"+
		"stage1_first_failing,stage2_first_failing,stage3_first_failing,stage4_first_failing\nAda,2,2,,,,,,,,,,\n", out)
	_, out, _ = run(t, root, "class", "export")
	assert.Regexp(t, `Ada\s+2/2\s+-\s+-\s+-\s+stage 1 done`, out)
}

// fakeResult is a check result of stage n with two checks.
func fakeResult(n int, ok bool) *check.Result {
	c := check.Catalog(n)
	res := &check.Result{Stage: n, Runtime: "local", Duration: 3 * time.Second,
		Outcomes: []check.Outcome{{Check: c[0], Passed: true}, {Check: c[1], Passed: ok}}}
	if !ok {
		res.Outcomes[1].Failure = &check.Failure{Expected: "a 400", Seen: "a 200"}
	}
	return res
}

// TestACheckPostsToTheClassWithoutEverFailingForIt is the hook at the end
// of `workshop check`: nothing without a class; with one, a line saying
// what happened, the result kept when the board is down, and sent with
// the next check.
func TestACheckPostsToTheClassWithoutEverFailingForIt(t *testing.T) {
	root := fixtureRepo(t)
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Dir: root}
	postToClass(env, root, 1, repo.ExerciseDir(root, 1), fakeResult(1, false))
	assert.Empty(t, errb.String(), "not in a class: nothing")

	data := t.TempDir()
	tc := startTestClass(t, data, "127.0.0.1:0")
	addr := strings.TrimPrefix(tc.url, "http://")
	code, _, stderr := run(t, root, "class", "join", tc.url, tc.Code(), "--name", "Sam")
	require.Equal(t, 0, code, stderr)

	postToClass(env, root, 1, repo.StageDir(root, 1), fakeResult(1, true))
	assert.Equal(t, "class: not posted: this checked the reference (stages/stage1), not your exercise\n", errb.String())
	errb.Reset()

	tc.stop() // the board goes down
	postToClass(env, root, 1, repo.ExerciseDir(root, 1), fakeResult(1, false))
	assert.Regexp(t, `^class: the board did not take this result \(the class at http://127\.0\.0\.1:\d+ does not answer \(.*\): .*\); `+
		`it goes with your next check\. Your check is not affected\.\n$`, errb.String())
	assert.Empty(t, out.String(), "the report and --json stay clean")
	errb.Reset()

	// Back up on the same address and folder: the next check sends both.
	tc = startTestClass(t, data, addr)
	postToClass(env, root, 2, repo.ExerciseDir(root, 2), fakeResult(2, true))
	assert.Equal(t, "class: result posted to the board at "+tc.url+" as Sam, with 1 earlier result(s) that had not reached it\n", errb.String())
	rows := exportRows(t, tc.url)
	require.Len(t, rows, 1)
	assert.Equal(t, 1, rows[0].Stages["1"].Passed)
	assert.Equal(t, "bad-input", rows[0].Stages["1"].FirstFailing)
	assert.True(t, rows[0].Stages["2"].OK)
}

// TestCheckWithTheBoardDown runs the real `workshop check 1` of a learner
// who joined a class whose board is down: the check passes and exits 0,
// its --json output stays clean, and one line on stderr says the result
// goes with the next check (which TestACheckPostsToTheClassWithoutEverFailingForIt
// shows arriving).
func TestCheckWithTheBoardDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stage 1")
	}
	root := fixtureRepo(t)
	require.NoError(t, files.CopyModule(repo.StageDir(realRoot(t), 1), repo.ExerciseDir(root, 1), false))
	tc := startTestClass(t, t.TempDir(), "127.0.0.1:0")
	code, _, stderr := run(t, root, "class", "join", tc.url, tc.Code(), "--name", "Sam")
	require.Equal(t, 0, code, stderr)
	tc.stop()

	code, out, stderr := run(t, root, "check", "1", "--runtime", "local", "--json")
	require.Equal(t, 0, code, stderr)
	var res check.JSON
	require.NoError(t, json.Unmarshal([]byte(out), &res), "stdout is the JSON alone")
	assert.True(t, res.OK)
	assert.Contains(t, stderr, "class: the board did not take this result")
	assert.FileExists(t, filepath.Join(root, ".workshop", "class-pending.json"))
}

// testUpShare runs `workshop up 1 --share` (from TestUp, which built the
// CLI): the services' spans reach the local viewer and, tagged with the
// learner, the class.
func testUpShare(t *testing.T, bin, realRoot string) {
	skipUnlessFree(t, 8100)
	// A checkout of its own, so the class file is not the developer's.
	root := t.TempDir()
	for _, name := range []string{"go.work", "stages"} {
		require.NoError(t, os.Symlink(filepath.Join(realRoot, name), filepath.Join(root, name)))
	}
	tc := startTestClass(t, t.TempDir(), "127.0.0.1:0")
	code, _, stderr := run(t, root, "class", "join", tc.url, tc.Code(), "--name", "Sam")
	require.Equal(t, 0, code, stderr)

	viewerPort, otlpPort := freePort(t), freePort(t)
	p := startUp(t, bin, root, "up", "1", "--share", "--viewer-port", strconv.Itoa(viewerPort), "--otlp-port", strconv.Itoa(otlpPort))
	p.waitOutput(t, "Ctrl-C stops everything")
	// Printed before the summary, whose last line was waited for.
	assert.Contains(t, p.out.String(), "sharing: the services' telemetry also goes to "+tc.url+", as Sam.")
	assert.Equal(t, http.StatusOK, get(t, "http://127.0.0.1:8100/roll?die=fair").status)

	viewerURL := "http://localhost:" + strconv.Itoa(viewerPort)
	assert.Eventually(t, func() bool { return strings.Contains(get(t, viewerURL+"/").body, "GET /roll") },
		30*time.Second, 100*time.Millisecond, "the local viewer still has the trace")
	assert.Eventually(t, func() bool {
		body := get(t, tc.url+"/learners/sam/telemetry/").body
		return strings.Contains(body, "GET /roll")
	}, 30*time.Second, 100*time.Millisecond, "the class has it too")
	trace := get(t, tc.url+"/learners/sam/telemetry/").body
	assert.Contains(t, trace, `href="/learners/sam/telemetry/trace/`)

	require.NoError(t, p.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, p.wait(t), p.out.String())
	assert.Regexp(t, `sharing: \d+ batch\(es\) of telemetry reached the class\.`, p.out.String())
}
