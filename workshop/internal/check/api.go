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
		where := pRoll
		if a != nil && a.Service == "frontend" {
			where = pRelay
		}
		if err != nil {
			return atIfFailure(err, where)
		}
		var body struct {
			Roll *int `json:"roll"`
		}
		if a.Status != http.StatusOK || json.Unmarshal(a.Body, &body) != nil || body.Roll == nil {
			return fail(fmt.Sprintf(`the %s to answer %s with 200 {"roll": n}`, a.Service, a.Request()), fmt.Sprintf("%d %s", a.Status, short(a.Body))).at(where, pDieLookup)
		}
		if *body.Roll < 1 || *body.Roll > 6 {
			return fail(fmt.Sprintf("a fair die to roll 1..6 on %s", a.Request()), fmt.Sprintf(`{"roll": %d}`, *body.Roll)).at(where)
		}
	}
	if o.Stage < 4 {
		return nil
	}
	a, err := o.answer("async")
	if err != nil {
		return atIfFailure(err, pRollAsync, pBatch)
	}
	var batch struct {
		Total *int  `json:"total"`
		Rolls []int `json:"rolls"`
		Count *int  `json:"count"`
	}
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &batch) != nil || batch.Total == nil || batch.Count == nil {
		return fail(fmt.Sprintf(`the %s to answer %s with 200 {"rolls": [...], "total": sum, "count": n}`, a.Service, a.Request()),
			fmt.Sprintf("%d %s", a.Status, short(a.Body))).at(pRollAsync, pBatch)
	}
	sum := 0
	for _, r := range batch.Rolls {
		sum += r
	}
	if len(batch.Rolls) != asyncTimes || *batch.Count != asyncTimes || *batch.Total != sum {
		return fail(fmt.Sprintf("%d rolls in \"rolls\", \"count\" %d and \"total\" their sum", asyncTimes, asyncTimes), short(a.Body)).at(pBatch, pRollAsync)
	}
	return nil
}

// checkBadInput sends nothing of its own: the bad requests are the probes
// of the table that are refused.
func checkBadInput(o *Observation) error {
	for _, p := range o.probesOf(phaseTraffic) {
		c := p.refused
		if c == nil {
			continue
		}
		why := c.why
		if o.has("die-service") {
			why += c.withDieService
		}
		a, err := o.answer(p.name)
		if err != nil {
			return atIfFailure(err, c.where...)
		}
		var body struct {
			Error string `json:"error"`
		}
		decodeErr := json.Unmarshal(a.Body, &body)
		if a.Status != p.status {
			return fail(fmt.Sprintf("the %s to answer %s with %d %s: %s", a.Service, a.Request(), p.status, http.StatusText(p.status), why),
				fmt.Sprintf("%d %s", a.Status, short(a.Body))).at(c.where...)
		}
		if p.status == http.StatusMethodNotAllowed {
			continue
		}
		if decodeErr != nil || body.Error == "" {
			return fail(fmt.Sprintf(`the %s's answer to %s to be JSON {"error": "..."}`, a.Service, a.Request()), short(a.Body)).at(c.where...)
		}
		for _, m := range c.mention {
			if !strings.Contains(strings.ToLower(body.Error), strings.ToLower(m)) {
				return fail(fmt.Sprintf("the error of %s to name the valid values (%s)", a.Request(), strings.Join(c.mention, ", ")),
					fmt.Sprintf("%q", body.Error)).at(c.where...)
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
