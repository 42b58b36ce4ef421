package class

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

// ExportRow is one learner in the class's export: the same columns as
// `workshop grade`, plus where they are and what fails first.
type ExportRow struct {
	Learner  string                 `json:"learner"`
	ID       string                 `json:"id"`
	Joined   time.Time              `json:"joined"`
	Position string                 `json:"position"`
	Stages   map[string]ExportStage `json:"stages"`
}

// ExportStage is a learner's last result of one stage.
type ExportStage struct {
	Passed       int       `json:"passed"`
	Total        int       `json:"total"`
	OK           bool      `json:"ok"`
	FirstFailing string    `json:"first_failing_check,omitempty"` // a check key
	Error        string    `json:"error,omitempty"`               // did not build or start
	CheckedAt    time.Time `json:"checked_at"`
}

func exportRows(learners []entry, now time.Time) []ExportRow {
	b := buildBoard(learners, now, "name", "", nil)
	position := map[string]string{}
	for _, r := range b.Rows {
		position[r.ID] = r.Position
	}
	slices.SortFunc(learners, func(a, b entry) int {
		return strings.Compare(strings.ToLower(a.Name)+"\x00"+a.ID, strings.ToLower(b.Name)+"\x00"+b.ID)
	})
	rows := make([]ExportRow, 0, len(learners))
	for _, l := range learners {
		row := ExportRow{Learner: l.Name, ID: l.ID, Joined: l.Joined, Position: position[l.ID], Stages: map[string]ExportStage{}}
		for n, r := range l.Results {
			st := ExportStage{Passed: r.Result.Passed, Total: r.Result.Total, OK: r.Result.OK,
				Error: firstLine(r.Result.Setup), CheckedAt: r.CheckedAt}
			if c, failed := failing(r.Result); failed {
				st.FirstFailing = c.ID
			}
			row.Stages[strconv.Itoa(n)] = st
		}
		rows = append(rows, row)
	}
	return rows
}

// WriteCSV writes the rows in `workshop grade --csv`'s columns, then each
// stage's first failing check.
func WriteCSV(w io.Writer, rows []ExportRow) error {
	cw := csv.NewWriter(w)
	header := []string{"learner"}
	for n := 1; n <= repo.Stages; n++ {
		header = append(header, fmt.Sprintf("stage%d_passed", n), fmt.Sprintf("stage%d_total", n))
	}
	for n := 1; n <= repo.Stages; n++ {
		header = append(header, fmt.Sprintf("stage%d_first_failing", n))
	}
	_ = cw.Write(header)
	for _, r := range rows {
		rec := []string{csvSafe(r.Learner)}
		for n := 1; n <= repo.Stages; n++ {
			st, ok := r.Stages[strconv.Itoa(n)]
			if !ok {
				rec = append(rec, "", "")
				continue
			}
			rec = append(rec, strconv.Itoa(st.Passed), strconv.Itoa(st.Total))
		}
		for n := 1; n <= repo.Stages; n++ {
			rec = append(rec, r.Stages[strconv.Itoa(n)].FirstFailing)
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a learner's name as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteJSON writes the rows as indented JSON.
func WriteJSON(w io.Writer, rows []ExportRow) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="class.csv"`)
	_ = WriteCSV(w, exportRows(s.roster(), s.opts.Now()))
}

func (s *Server) exportJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = WriteJSON(w, exportRows(s.roster(), s.opts.Now()))
}

// ExportFile reads the class's results from its data folder, with the
// server stopped (after the day).
func ExportFile(dataDir string) ([]ExportRow, error) {
	path := filepath.Join(dataDir, DBFile)
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("%s is in use: the class server is running; download the board's /export.csv or /export.json instead", path)
	case err != nil:
		return nil, fmt.Errorf("no class in %s: %w", dataDir, err)
	}
	d := &db{bolt: b}
	defer d.close()
	learners, results, err := d.load()
	if err != nil {
		return nil, err
	}
	entries := make([]entry, 0, len(learners))
	for _, l := range learners {
		entries = append(entries, entry{Learner: l, Results: results[l.ID]})
	}
	return exportRows(entries, time.Now()), nil
}
