package check

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

func checkAPI(o *Observation) error {
	names := []string{"roll"}
	if o.has("frontend") {
		names = append(names, "frontend-roll")
	}
	for _, name := range names {
		a, err := o.answer(name)
		if err != nil {
			return err
		}
		var body struct {
			Roll *int `json:"roll"`
		}
		if a.Status != http.StatusOK || json.Unmarshal(a.Body, &body) != nil || body.Roll == nil {
			return fail(fmt.Sprintf(`GET %s to answer 200 {"roll": n}`, a.URL), fmt.Sprintf("%d %s", a.Status, short(a.Body)))
		}
		if *body.Roll < 1 || *body.Roll > 6 {
			return fail(fmt.Sprintf("a fair die to roll 1..6 on GET %s", a.URL), fmt.Sprintf("%d", *body.Roll))
		}
	}
	if o.Stage < 4 {
		return nil
	}
	a, err := o.answer("async")
	if err != nil {
		return err
	}
	var batch struct {
		Total *int  `json:"total"`
		Rolls []int `json:"rolls"`
		Count *int  `json:"count"`
	}
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &batch) != nil || batch.Total == nil || batch.Count == nil {
		return fail(fmt.Sprintf(`GET %s to answer 200 {"total", "rolls", "count"}`, a.URL), fmt.Sprintf("%d %s", a.Status, short(a.Body)))
	}
	sum := 0
	for _, r := range batch.Rolls {
		sum += r
	}
	if len(batch.Rolls) != asyncTimes || *batch.Count != asyncTimes || *batch.Total != sum {
		return fail(fmt.Sprintf("%d rolls, count %d and total their sum", asyncTimes, asyncTimes), short(a.Body))
	}
	return nil
}

// badInput is one bad request and what its error must mention.
type badInput struct {
	probe   string
	status  int
	mention []string // the error message must contain each (case-insensitive)
}

func checkBadInput(o *Observation) error {
	cases := []badInput{
		{"missing-die", http.StatusBadRequest, []string{"die"}},
		{"unknown-die", http.StatusBadRequest, []string{"fair", "risky"}},
		{"wrong-method", http.StatusMethodNotAllowed, nil},
	}
	if o.has("frontend") {
		cases = append(cases, badInput{"frontend-unknown-die", http.StatusBadRequest, []string{"fair", "risky"}})
	}
	if o.has("die-service") {
		cases = append(cases, badInput{"unknown-identifier", http.StatusNotFound, []string{"fair", "risky"}})
	}
	if o.Stage >= 4 {
		cases = append(cases,
			badInput{"times-missing", http.StatusBadRequest, []string{"1", "20"}},
			badInput{"times-not-int", http.StatusBadRequest, []string{"1", "20"}},
			badInput{"times-zero", http.StatusBadRequest, []string{"1", "20"}},
			badInput{"times-too-big", http.StatusBadRequest, []string{"1", "20"}},
		)
	}
	for _, c := range cases {
		a, err := o.answer(c.probe)
		if err != nil {
			return err
		}
		var body struct {
			Error string `json:"error"`
		}
		decodeErr := json.Unmarshal(a.Body, &body)
		if a.Status != c.status {
			return fail(fmt.Sprintf("%s %s to answer %d", a.Method, a.URL, c.status), fmt.Sprintf("%d %s", a.Status, short(a.Body)))
		}
		if c.status == http.StatusMethodNotAllowed {
			continue
		}
		if decodeErr != nil || body.Error == "" {
			return fail(fmt.Sprintf(`%s %s to answer {"error": "..."}`, a.Method, a.URL), short(a.Body))
		}
		for _, m := range c.mention {
			if !strings.Contains(strings.ToLower(body.Error), strings.ToLower(m)) {
				return fail(fmt.Sprintf("the error of %s %s to name the valid values (%s)", a.Method, a.URL, strings.Join(c.mention, ", ")), fmt.Sprintf("%q", body.Error))
			}
		}
	}
	return nil
}

func short(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
