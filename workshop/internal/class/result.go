package class

// This file is the one place where the board reads what `workshop check
// --json` prints: decoding, cleaning, and turning it back into the report
// card. When the check JSON's schema changes, adapt it here.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
	"github.com/go-o11y-workshop/kit/workshop/stage"
)

// Bounds of a posted result. A check JSON is a few KB; a failure with a
// received trace can reach tens.
const (
	MaxResultBytes = 256 << 10 // one posted result, as sent
	maxChecks      = 100       // checks in one result
	maxShort       = 200       // titles, keys, ids, steps, runtime, dir (bytes)
	maxLong        = 2000      // expected, seen, hint
	maxPlaces      = 8         // places to look, per check
	maxTrace       = 8000      // a received trace, a setup error
)

// Post is the body of POST /api/results: one `workshop check --json`
// result, and how long ago the check ran (a result retried with a later
// check keeps its time; an age, not a time, so clocks need not agree).
type Post struct {
	AgeMS  int64           `json:"age_ms"`
	Result json.RawMessage `json:"result"`
}

// Result is a posted check result, decoded and cleaned: the check command's
// own JSON type, so the board reads exactly what `check --json` prints.
type Result = check.JSON

// DecodeResult reads a posted check JSON and cleans every string in it
// (valid UTF-8, no control characters but newlines and tabs, bounded
// length), so nothing a learner sends can be longer than the board allows
// or carry terminal escapes. It refuses what is not a check result.
func DecodeResult(raw []byte) (Result, error) {
	var r Result
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&r); err != nil {
		return Result{}, fmt.Errorf("the result is not check JSON: %v", err)
	}
	if dec.More() {
		return Result{}, errors.New("the result has more than one JSON value")
	}
	if r.Schema < 1 {
		return Result{}, errors.New("the result has no schema version: post the output of workshop check N --json")
	}
	if r.Schema != check.JSONSchema {
		return Result{}, fmt.Errorf("the result is in schema %d; this board reads schema %d: update your checkout of the kit (git pull)", r.Schema, check.JSONSchema)
	}
	if _, err := repo.ParseStage(fmt.Sprint(r.Stage)); err != nil {
		return Result{}, fmt.Errorf("the result's stage: %v", err)
	}
	if len(r.Checks) > maxChecks {
		return Result{}, fmt.Errorf("the result has %d checks; at most %d", len(r.Checks), maxChecks)
	}
	if len(r.Checks) == 0 && r.Setup == "" {
		return Result{}, errors.New("the result has neither checks nor a setup error")
	}
	r.Dir = clean(r.Dir, maxShort, false)
	r.Runtime = clean(r.Runtime, maxShort, false)
	r.Setup = clean(r.Setup, maxTrace, true)
	passed := 0
	for i := range r.Checks {
		c := &r.Checks[i]
		c.ID = clean(c.ID, maxShort, false)
		c.Title = clean(c.Title, maxShort, false)
		c.Step = clean(c.Step, maxShort, false)
		c.Expected = clean(c.Expected, maxLong, true)
		c.Seen = clean(c.Seen, maxLong, true)
		c.Hint = clean(c.Hint, maxLong, true)
		c.Trace = clean(c.Trace, maxTrace, true)
		if c.ID == "" {
			return Result{}, fmt.Errorf("check %d of the result has no id", i+1)
		}
		if len(c.Where) > maxPlaces {
			c.Where = c.Where[:maxPlaces]
		}
		for j := range c.Where {
			p := &c.Where[j]
			p.File = clean(p.File, maxShort, false)
			p.Func = clean(p.Func, maxShort, false)
			p.Exercise = clean(p.Exercise, maxShort, false)
		}
		switch c.Status {
		case "pass":
			passed++
		case "fail", "skip":
		default:
			return Result{}, fmt.Errorf("check %s has status %q; want pass, fail or skip", c.ID, clean(c.Status, 20, false))
		}
	}
	// The counts are recomputed, not trusted.
	r.Passed, r.Total = passed, len(r.Checks)
	r.OK = r.Setup == "" && r.Total > 0 && passed == r.Total
	r.DurationMS = max(0, r.DurationMS)
	return r, nil
}

// failing returns the first failing check in step order (the earliest step
// the learner has not finished), and false when none fails.
func failing(r Result) (check.JSONCheck, bool) {
	var first check.JSONCheck
	found := false
	for _, c := range r.Checks {
		if c.Status != "fail" {
			continue
		}
		if !found || compareSteps(c.Step, first.Step) < 0 {
			first, found = c, true
		}
	}
	return first, found
}

// stepGreen reports whether the result has checks of step and all pass.
func stepGreen(r Result, step string) (green, has bool) {
	green = true
	for _, c := range r.Checks {
		if c.Step == step {
			has = true
			green = green && c.Status == "pass"
		}
	}
	return green && has, has
}

// Report renders the report card `workshop check` printed for this result,
// as plain text.
func Report(r Result) string {
	res := &check.Result{Stage: r.Stage, Dir: r.Dir, Runtime: r.Runtime,
		Duration: time.Duration(r.DurationMS) * time.Millisecond}
	if r.Setup != "" {
		res.Setup = setupError(r.Setup)
	}
	for _, c := range r.Checks {
		o := check.Outcome{Check: check.Check{ID: c.ID, Stage: r.Stage, Title: c.Title, Step: c.Step, Hint: c.Hint, Where: c.Where},
			Passed: c.Status == "pass", Skipped: c.Status == "skip"}
		switch {
		case o.Skipped:
			o.Err = c.Seen
		case !o.Passed:
			o.Failure = &check.Failure{Expected: c.Expected, Seen: c.Seen, Trace: c.Trace}
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	var b strings.Builder
	check.WriteReport(&b, res, false)
	return b.String()
}

// setupError turns the JSON's setup_error back into the error the report
// card prints: a compile failure keeps its own shape.
func setupError(s string) error {
	if service, output, ok := strings.Cut(s, " does not build:\n"); ok && !strings.ContainsAny(service, " \n") {
		return &stage.BuildError{Service: service, Output: output}
	}
	return errors.New(s)
}

// clean makes s valid UTF-8 without control characters (newlines and tabs
// stay when multiline), and cuts it to at most limit bytes on a rune
// boundary, marking the cut with "…".
func clean(s string, limit int, multiline bool) string {
	s = strings.ToValidUTF8(s, "�")
	s = strings.Map(func(r rune) rune {
		switch {
		case multiline && (r == '\n' || r == '\t'):
			return r
		case r == '\n' || r == '\t' || r == '\r':
			return ' '
		case unicode.IsControl(r), r == '\u2028', r == '\u2029', unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
	if len(s) <= limit {
		return s
	}
	cut := limit - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// compareSteps orders step ids numerically ("4.2" < "4.10"); ids that are
// not numbers sort after those that are, by text.
func compareSteps(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := atoi(pa[i])
		nb, eb := atoi(pb[i])
		switch {
		case ea && eb && na != nb:
			if na < nb {
				return -1
			}
			return 1
		case ea != eb:
			if ea {
				return -1
			}
			return 1
		case !ea && pa[i] != pb[i]:
			return strings.Compare(pa[i], pb[i])
		}
	}
	return len(pa) - len(pb)
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, true
}
