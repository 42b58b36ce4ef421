package class

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJoinNeedsTheClassCode(t *testing.T) {
	tc := startClass(t, Options{Limits: Limits{JoinFailures: 3}})
	require.Len(t, tc.Code(), CodeLength)

	a := tc.tryJoin(t, JoinRequest{Code: "WRONG1", Name: "Sam"})
	assert.Equal(t, http.StatusForbidden, a.status)
	assert.Contains(t, a.errorText(t), "wrong class code")
	a = tc.tryJoin(t, JoinRequest{Name: "Sam"})
	assert.Equal(t, http.StatusForbidden, a.status, "no code is a wrong code")

	// Typed as people type it: lower case, with a dash or spaces.
	typed := strings.ToLower(tc.Code()[:3]) + "-" + tc.Code()[3:]
	a = tc.tryJoin(t, JoinRequest{Code: typed, Name: "Sam"})
	require.Equal(t, http.StatusCreated, a.status, a.body)
	var r JoinResponse
	a.json(t, &r)
	assert.Equal(t, "sam", r.Learner)
	assert.Equal(t, "Sam", r.Name)
	assert.Len(t, r.Token, 32)

	// Guessing is bounded per address: after 3 wrong codes, even the
	// right one waits.
	a = tc.tryJoin(t, JoinRequest{Code: "WRONG2", Name: "Eve"})
	assert.Equal(t, http.StatusForbidden, a.status)
	a = tc.tryJoin(t, JoinRequest{Code: tc.Code(), Name: "Eve"})
	assert.Equal(t, http.StatusTooManyRequests, a.status)
	assert.Contains(t, a.errorText(t), "too many wrong class codes")
	assert.Contains(t, tc.get(t, "/join?code="+tc.Code()).body, "not the class code", "the join page counts as a guess too")
}

func TestNamesAreCleanedBoundedAndUnique(t *testing.T) {
	tc := startClass(t, Options{})
	tests := []struct {
		name, want, id string
		status         int
		err            string
	}{
		{"  Sam   K.  ", "Sam K.", "sam-k", http.StatusCreated, ""},
		{"sam k.", "", "", http.StatusConflict, `the name "sam k." is taken in this class`},
		{"Zoë\x1b[31m Smith\u202e", "Zoë[31m Smith", "zo-31m-smith", http.StatusCreated, ""},
		{"<script>alert(1)</script>", "<script>alert(1)</script>", "script-alert-1-script", http.StatusCreated, ""},
		{"李雷", "李雷", "learner", http.StatusCreated, ""},
		{"韩梅梅", "韩梅梅", "learner-2", http.StatusCreated, ""},
		{"   ", "", "", http.StatusBadRequest, "a name is needed"},
		{strings.Repeat("n", MaxNameRunes+1), "", "", http.StatusBadRequest, "at most 40"},
		{strings.Repeat("é", MaxNameRunes), strings.Repeat("é", MaxNameRunes), "learner-3", http.StatusCreated, ""},
	}
	for _, tt := range tests {
		a := tc.tryJoin(t, JoinRequest{Code: tc.Code(), Name: tt.name})
		require.Equal(t, tt.status, a.status, "%q: %s", tt.name, a.body)
		if tt.err != "" {
			assert.Contains(t, a.errorText(t), tt.err)
			continue
		}
		var r JoinResponse
		a.json(t, &r)
		assert.Equal(t, tt.want, r.Name)
		assert.Equal(t, tt.id, r.Learner)
	}
	board := tc.get(t, "/").body
	assert.Contains(t, board, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.NotContains(t, board, "<script>alert")
	assert.NotContains(t, board, "\x1b")
	assert.Contains(t, tc.get(t, "/").header.Get("Content-Security-Policy"), "script-src 'self'")

	a := tc.tryJoin(t, JoinRequest{Code: tc.Code(), Name: "x", Token: ""})
	require.Equal(t, http.StatusCreated, a.status)
	big := `{"code":"` + tc.Code() + `","name":"` + strings.Repeat("a", maxJoinBody) + `"}`
	assert.Equal(t, http.StatusRequestEntityTooLarge, tc.do(t, http.MethodPost, "/api/join", "", []byte(big)).status)
	assert.Equal(t, http.StatusBadRequest, tc.do(t, http.MethodPost, "/api/join", "", []byte(`{"code":`)).status)
}

func TestTheClassIsBounded(t *testing.T) {
	tc := startClass(t, Options{Limits: Limits{MaxLearners: 2}})
	tc.join(t, "Ada")
	tc.join(t, "Bob")
	a := tc.tryJoin(t, JoinRequest{Code: tc.Code(), Name: "Cy"})
	assert.Equal(t, http.StatusForbidden, a.status)
	assert.Contains(t, a.errorText(t), "the class is full")
}

func TestOnlyALearnersTokenPostsAsThem(t *testing.T) {
	tc := startClass(t, Options{})
	ada, bob := tc.join(t, "Ada"), tc.join(t, "Bob")

	for _, token := range []string{"", "not-a-token", ada.Token + "x"} {
		a := tc.post(t, token, result(1, "api@1.3"), 0)
		assert.Equal(t, http.StatusUnauthorized, a.status, "token %q", token)
		assert.Contains(t, a.errorText(t), "join again")
	}
	require.Equal(t, http.StatusOK, tc.post(t, ada.Token, result(1, "api@1.3", "!flush@1.1"), 0).status)
	require.Equal(t, http.StatusOK, tc.post(t, bob.Token, result(1, "api@1.3", "flush@1.1"), 0).status)

	rows := map[string]Row{}
	for _, r := range tc.board("name", "").Rows {
		rows[r.ID] = r
	}
	assert.Equal(t, "fail", rows["ada"].Cells[0].State, "Ada's own result")
	assert.Equal(t, "pass", rows["bob"].Cells[0].State, "Bob's post did not touch Ada's row")

	// Joining again with the token keeps the row (and may rename it); the
	// same name without the token is someone else, and refused.
	a := tc.tryJoin(t, JoinRequest{Code: tc.Code(), Name: "Ada L.", Token: ada.Token})
	require.Equal(t, http.StatusOK, a.status, a.body)
	var again JoinResponse
	a.json(t, &again)
	assert.Equal(t, JoinResponse{Learner: "ada", Name: "Ada L.", Token: ada.Token}, again)
	assert.Equal(t, http.StatusConflict, tc.tryJoin(t, JoinRequest{Code: tc.Code(), Name: "Ada L."}).status)
	a = tc.tryJoin(t, JoinRequest{Code: tc.Code(), Name: "Bob", Token: ada.Token})
	assert.Equal(t, http.StatusConflict, a.status, "a re-join cannot take another's name")
	require.Equal(t, http.StatusOK, tc.post(t, ada.Token, result(1, "api@1.3", "flush@1.1"), 0).status, "the token still posts")
}

func TestMalformedAndOversizedResultsAreRefused(t *testing.T) {
	tc := startClass(t, Options{Limits: Limits{ResultBurst: 100}})
	sam := tc.join(t, "Sam")
	many := make([]string, maxChecks+1)
	for i := range many {
		many[i] = fmt.Sprintf("k%d@1.1", i)
	}
	tests := []struct {
		name   string
		body   string
		status int
		err    string
	}{
		{"not JSON", `hello`, http.StatusBadRequest, "not the JSON expected"},
		{"no result", `{"age_ms": 5}`, http.StatusBadRequest, "not check JSON"},
		{"a string result", `{"result": "pass"}`, http.StatusBadRequest, "not check JSON"},
		{"no schema", `{"result": {"stage": 1, "checks": [{"key": "api", "status": "pass"}]}}`, http.StatusBadRequest, "no schema version"},
		{"an older schema", `{"result": {"schema": 1, "stage": 1, "checks": [{"id": "1.1", "key": "api", "status": "pass"}]}}`, http.StatusBadRequest, "update your checkout"},
		{"no such stage", `{"result": {"schema": 3, "stage": 9, "checks": [{"key": "api", "status": "pass"}]}}`, http.StatusBadRequest, "no stage 9"},
		{"a status that is neither", `{"result": {"schema": 3, "stage": 1, "checks": [{"id": "api", "status": "maybe"}]}}`, http.StatusBadRequest, `status "maybe"`},
		{"a check without its id", `{"result": {"schema": 3, "stage": 1, "checks": [{"title": "The API answers", "status": "pass"}]}}`, http.StatusBadRequest, "has no id"},
		{"nothing at all", `{"result": {"schema": 3, "stage": 1, "checks": []}}`, http.StatusBadRequest, "neither checks nor a setup error"},
		{"too many checks", `{"result": ` + string(result(1, many...)) + `}`, http.StatusBadRequest, "at most 100"},
		{"too large", `{"result": {"schema": 3, "stage": 1, "setup_error": "` + strings.Repeat("x", MaxResultBytes+2048) + `"}}`, http.StatusRequestEntityTooLarge, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tc.do(t, http.MethodPost, "/api/results", sam.Token, []byte(tt.body))
			assert.Equal(t, tt.status, a.status, a.body)
			assert.Contains(t, a.errorText(t), tt.err)
		})
	}
	assert.Equal(t, "no check yet", tc.board("name", "").Rows[0].Position, "nothing refused reached the board")
}

func TestPostedStringsAreCleanedAndBounded(t *testing.T) {
	tc := startClass(t, Options{})
	sam := tc.join(t, "Sam")
	var j map[string]any
	require.NoError(t, json.Unmarshal(result(4, "!async-children@4.2"), &j))
	c := j["checks"].([]any)[0].(map[string]any)
	c["title"] = "<img src=x onerror=alert(1)>" + strings.Repeat("t", 5000)
	c["seen"] = "line one\nline \x1b[31mtwo\x07" + strings.Repeat("s", 10000)
	c["trace"] = strings.Repeat("é", 20000)
	j["passed"], j["total"], j["ok"] = 99, 1, true // counts are recomputed
	raw, _ := json.Marshal(j)
	require.Equal(t, http.StatusOK, tc.post(t, sam.Token, raw, 0).status)

	stored := tc.roster()[0].Results[4].Result
	got := stored.Checks[0]
	assert.LessOrEqual(t, len(got.Title), maxShort)
	assert.True(t, strings.HasSuffix(got.Title, "…"))
	assert.LessOrEqual(t, len(got.Seen), maxLong)
	assert.True(t, strings.HasPrefix(got.Seen, "line one\nline [31mtwo"), "newlines stay, escapes go: %q", got.Seen[:30])
	assert.LessOrEqual(t, len(got.Trace), maxTrace)
	assert.Equal(t, 0, stored.Passed)
	assert.False(t, stored.OK)

	page := tc.get(t, "/learners/sam").body
	assert.Contains(t, page, "&lt;img src=x onerror=alert(1)&gt;")
	assert.NotContains(t, page, "<img src=x")
	assert.NotContains(t, tc.get(t, "/").body, "<img src=x")
}

func TestResultsAreRateLimitedPerLearner(t *testing.T) {
	tc := startClass(t, Options{Limits: Limits{ResultBurst: 2, ResultEvery: time.Hour}})
	ada, bob := tc.join(t, "Ada"), tc.join(t, "Bob")
	for range 2 {
		require.Equal(t, http.StatusOK, tc.post(t, ada.Token, result(1, "api@1.3"), 0).status)
	}
	a := tc.post(t, ada.Token, result(1, "api@1.3"), 0)
	assert.Equal(t, http.StatusTooManyRequests, a.status)
	assert.NotEmpty(t, a.header.Get("Retry-After"))
	assert.Equal(t, http.StatusOK, tc.post(t, bob.Token, result(1, "api@1.3"), 0).status, "Bob has his own budget")
}

func TestAnOlderResultNeverHidesANewerOne(t *testing.T) {
	clk := newClock()
	tc := startClass(t, Options{Now: clk.Now})
	sam := tc.join(t, "Sam")
	clk.add(10 * time.Minute)
	require.Equal(t, http.StatusOK, tc.post(t, sam.Token, result(4, "api@4.1", "async-children@4.2"), 0).status)
	// A result of a check run 5 minutes ago, retried only now.
	a := tc.post(t, sam.Token, result(4, "api@4.1", "!async-children@4.2"), 5*time.Minute)
	require.Equal(t, http.StatusOK, a.status)
	var resp PostResponse
	a.json(t, &resp)
	assert.False(t, resp.Stored)
	r := tc.roster()[0]
	assert.True(t, r.Results[4].Result.OK)
	assert.Equal(t, "", r.Step)
	assert.Equal(t, 2, r.Posts)

	// An age past the join is the join.
	require.Equal(t, http.StatusOK, tc.post(t, sam.Token, result(3, "api@3.2"), 48*time.Hour).status)
	assert.Equal(t, tc.roster()[0].Joined, tc.roster()[0].Results[3].CheckedAt)
}

func TestTheClassSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	tc := startClass(t, Options{DataDir: dir})
	sam := tc.join(t, "Sam")
	require.Equal(t, http.StatusOK, tc.post(t, sam.Token, result(4, "api@4.1", "!async-children@4.2"), 0).status)
	code := tc.Code()

	_, err := New(Options{DataDir: dir})
	require.ErrorContains(t, err, "in use by another class server")
	tc.stop()

	again := startClass(t, Options{DataDir: dir})
	assert.Equal(t, code, again.Code())
	rows := again.board("name", "").Rows
	require.Len(t, rows, 1)
	assert.Equal(t, "Sam", rows[0].Name)
	assert.Equal(t, "step 4.2", rows[0].Position)
	assert.Equal(t, "1/2", rows[0].Cells[3].Text)
	assert.Equal(t, http.StatusOK, again.post(t, sam.Token, result(4, "api@4.1", "async-children@4.2"), 0).status, "the token survives too")
	assert.Equal(t, http.StatusConflict, again.tryJoin(t, JoinRequest{Code: code, Name: "sam"}).status)
	again.stop()

	// A code chosen by the instructor replaces the stored one.
	chosen := startClass(t, Options{DataDir: dir, Code: "py-con-26"})
	assert.Equal(t, "PYCON26", chosen.Code())
	_, err = New(Options{DataDir: t.TempDir(), Code: "no"})
	assert.ErrorContains(t, err, "4 to 16 letters and digits")
}

func TestAdminRemovesARowAndResetsTheClass(t *testing.T) {
	off := startClass(t, Options{})
	a := off.do(t, http.MethodPost, "/admin/reset", "anything", nil)
	assert.Equal(t, http.StatusForbidden, a.status)
	assert.Contains(t, a.errorText(t), "admin actions are off")
	assert.Contains(t, off.get(t, "/admin").body, "Admin actions are off")

	tc := startClass(t, Options{Admin: "s3cret"})
	ada, bob := tc.join(t, "Ada"), tc.join(t, "Bob")
	require.Equal(t, http.StatusOK, tc.post(t, ada.Token, result(1, "api@1.3"), 0).status)

	// Learners cannot: no secret, a wrong one, a learner's token.
	for _, token := range []string{"", "wrong", ada.Token} {
		assert.Equal(t, http.StatusForbidden, tc.do(t, http.MethodPost, "/admin/learners/bob/remove", token, nil).status)
	}
	assert.Equal(t, http.StatusNotFound, tc.do(t, http.MethodGet, "/admin/reset", "s3cret", nil).status, "actions are POSTs")
	a = tc.do(t, http.MethodPost, "/admin/learners/bob/remove", "s3cret", nil)
	require.Equal(t, http.StatusOK, a.status, a.body)
	assert.Equal(t, http.StatusUnauthorized, tc.post(t, bob.Token, result(1, "api@1.3"), 0).status, "a removed learner's token no longer posts")
	assert.Equal(t, http.StatusNotFound, tc.do(t, http.MethodPost, "/admin/learners/bob/remove", "s3cret", nil).status)
	assert.Len(t, tc.roster(), 1)
	assert.Equal(t, "Bob", tc.join(t, "Bob").Name, "the name is free again")

	// The browser's way: sign in, then forms carrying the anti-forgery token.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer noRedirect.CloseIdleConnections()
	form := func(path string, values url.Values, cookie *http.Cookie) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, tc.URL+path, strings.NewReader(values.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	assert.Equal(t, http.StatusForbidden, form("/admin/login", url.Values{"secret": {"nope"}}, nil).StatusCode)
	resp := form("/admin/login", url.Values{"secret": {"s3cret"}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Len(t, resp.Cookies(), 1)
	cookie := resp.Cookies()[0]
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, cookie.SameSite)

	adminPage := tc.do(t, http.MethodGet, "/admin", "", nil, "Cookie", cookie.String())
	assert.Contains(t, adminPage.body, html.EscapeString(JoinCommand(tc.URL, tc.Code())), "the admin page shows the join command")
	csrf := tc.sign("csrf")
	assert.Contains(t, adminPage.body, csrf)
	assert.NotContains(t, tc.get(t, "/").body, tc.Code(), "the public board does not show the code")

	assert.Equal(t, http.StatusForbidden, form("/admin/learners/ada/remove", url.Values{}, cookie).StatusCode, "no anti-forgery token")
	assert.Equal(t, http.StatusBadRequest, form("/admin/reset", url.Values{"csrf": {csrf}}, cookie).StatusCode, "reset asks for a confirmation")
	assert.Equal(t, http.StatusSeeOther, form("/admin/reset", url.Values{"csrf": {csrf}, "confirm": {"reset"}}, cookie).StatusCode)
	assert.Empty(t, tc.roster())
	assert.Equal(t, http.StatusUnauthorized, tc.post(t, ada.Token, result(1, "api@1.3"), 0).status)
	tc.stop()

	// The reset is on disk too.
	again := startClass(t, Options{DataDir: tc.opts.DataDir})
	assert.Empty(t, again.roster())
}

func TestTheLiveBoardStreamsChanges(t *testing.T) {
	tc := startClass(t, Options{Limits: Limits{MaxWatchers: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tc.URL+"/events", nil)
	resp, err := tc.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	lines := bufio.NewScanner(resp.Body)
	require.True(t, lines.Scan())
	assert.Equal(t, "retry: 5000", lines.Text())

	require.Eventually(t, func() bool { return tc.Watchers() == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, http.StatusServiceUnavailable, tc.get(t, "/events").status, "watchers are bounded")

	tc.join(t, "Sam")
	for lines.Scan() && lines.Text() != "event: changed" {
	}
	assert.Equal(t, "event: changed", lines.Text())

	// Closing the class ends the stream (no goroutine waits on it).
	tc.stop()
	for lines.Scan() {
	}
	assert.Equal(t, 0, tc.Watchers())
}

func TestExportIsLikeGrade(t *testing.T) {
	tc := startClass(t, Options{})
	ada, eve := tc.join(t, "Ada"), tc.join(t, "=cmd|' /C calc'!A0")
	tc.join(t, "Bob")
	require.Equal(t, http.StatusOK, tc.post(t, ada.Token, result(1, "api@1.3", "!flush@1.1"), 0).status)
	require.Equal(t, http.StatusOK, tc.post(t, ada.Token, result(4, "api@4.1", "async-children@4.2"), 0).status)
	require.Equal(t, http.StatusOK, tc.post(t, eve.Token, result(2, "api@2.1"), 0).status)

	csv := tc.get(t, "/export.csv")
	assert.Equal(t, http.StatusOK, csv.status)
	lines := strings.Split(strings.TrimSpace(csv.body), "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, "learner,stage1_passed,stage1_total,stage2_passed,stage2_total,stage3_passed,stage3_total,stage4_passed,stage4_total,"+
		"stage1_first_failing,stage2_first_failing,stage3_first_failing,stage4_first_failing", lines[0])
	assert.Equal(t, "'=cmd|' /C calc'!A0,,,1,1,,,,,,,,", lines[1], "a formula-like name is not a formula")
	assert.Equal(t, "Ada,1,2,,,,,2,2,flush,,,", lines[2])
	assert.Equal(t, "Bob,,,,,,,,,,,,", lines[3])

	var rows []ExportRow
	tc.get(t, "/export.json").json(t, &rows)
	require.Len(t, rows, 3)
	assert.Equal(t, "Ada", rows[1].Learner)
	assert.Equal(t, "stage 4 done", rows[1].Position)
	assert.Equal(t, ExportStage{Passed: 1, Total: 2, FirstFailing: "flush", CheckedAt: rows[1].Stages["1"].CheckedAt}, rows[1].Stages["1"])

	_, err := ExportFile(tc.opts.DataDir)
	assert.ErrorContains(t, err, "the class server is running")
	tc.stop()
	offline, err := ExportFile(tc.opts.DataDir)
	require.NoError(t, err)
	assert.Equal(t, rows, offline, "after the day, the same export from the file")
	_, err = ExportFile(t.TempDir())
	assert.ErrorContains(t, err, "no class in")
}

func TestPages(t *testing.T) {
	tc := startClass(t, Options{URL: "http://10.1.2.3:8200"})
	sam := tc.join(t, "Sam")
	require.Equal(t, http.StatusOK, tc.post(t, sam.Token, result(4, "api@4.1", "!async-children@4.2"), 0).status)

	join := tc.get(t, "/join?code="+strings.ToLower(tc.Code())).body
	assert.Contains(t, join, "workshop class join http://10.1.2.3:8200 "+tc.Code())
	assert.NotContains(t, tc.get(t, "/join").body, tc.Code())
	report := tc.get(t, "/learners/sam")
	assert.Equal(t, http.StatusOK, report.status)
	assert.Contains(t, report.body, "FAIL  check async-children  Title of async-children")
	assert.Contains(t, tc.get(t, "/learners/sam?stage=2").body, "No result of stage 2 from Sam yet")
	assert.Equal(t, http.StatusNotFound, tc.get(t, "/learners/nobody").status)
	assert.Equal(t, http.StatusNotFound, tc.get(t, "/learners/nobody/telemetry/").status)
	assert.Equal(t, http.StatusNotFound, tc.get(t, "/nothing").status)
	frag := tc.get(t, "/?fragment=1").body
	assert.True(t, strings.HasPrefix(frag, `<section id="board">`), frag[:40])
	assert.NotContains(t, frag, "<html")
	assert.Equal(t, http.StatusOK, tc.get(t, "/static/board.js").status)
	assert.Equal(t, http.StatusOK, tc.get(t, "/healthz").status)
}

// A change that comes the moment a page connects (right after "retry") is
// sent to it: the stream subscribes before its first write. Before, a
// join in that instant was missed and the page stayed stale.
func TestTheLiveBoardMissesNoChangeAtConnect(t *testing.T) {
	tc := startClass(t, Options{})
	client := &http.Client{Timeout: 3 * time.Second}
	for i := range 40 {
		resp, err := client.Get(tc.URL + "/events")
		require.NoError(t, err)
		lines := bufio.NewScanner(resp.Body)
		require.True(t, lines.Scan())
		require.Equal(t, "retry: 5000", lines.Text())
		tc.join(t, fmt.Sprintf("Sam %d", i))
		for lines.Scan() && lines.Text() != "event: changed" {
		}
		resp.Body.Close()
		require.Equal(t, "event: changed", lines.Text(), "connection %d: the join right after connecting was not sent", i)
	}
}
