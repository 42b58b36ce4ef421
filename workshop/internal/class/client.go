package class

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Membership is a checkout's place in a class, kept in .workshop/class.json
// (ignored by git; readable by its owner only, since it holds the token).
type Membership struct {
	URL       string    `json:"url"`
	Name      string    `json:"name"`
	Learner   string    `json:"learner"`
	Token     string    `json:"token"`
	Telemetry string    `json:"telemetry,omitempty"` // where --share sends, when not the class server
	Joined    time.Time `json:"joined"`
}

// MembershipPath is the class file of the checkout at root.
func MembershipPath(root string) string { return filepath.Join(root, ".workshop", "class.json") }

// pendingPath holds results the board did not take yet.
func pendingPath(root string) string { return filepath.Join(root, ".workshop", "class-pending.json") }

// LoadMembership reads the checkout's class; nil when it has joined none.
func LoadMembership(root string) (*Membership, error) {
	b, err := os.ReadFile(MembershipPath(root))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m Membership
	if err := json.Unmarshal(b, &m); err != nil || m.URL == "" || m.Token == "" {
		return nil, fmt.Errorf("%s is damaged: workshop class leave, then join again", MembershipPath(root))
	}
	return &m, nil
}

// Save writes the membership atomically, readable by its owner only.
func (m *Membership) Save(root string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(MembershipPath(root), append(b, '\n'))
}

// TelemetryEndpoint is where `up --share` sends, and whether the class's
// token goes with it (only to the class server itself).
func (m *Membership) TelemetryEndpoint() (endpoint string, withToken bool) {
	if m.Telemetry != "" {
		return m.Telemetry, false
	}
	return m.URL, true
}

// Leave forgets the class (and any result not yet sent); false when the
// checkout had not joined one.
func Leave(root string) (bool, error) {
	err := os.Remove(MembershipPath(root))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := os.Remove(pendingPath(root)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, err
	}
	return true, nil
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// NormalizeURL reads the class URL as typed: "10.0.0.5:8200" works too.
func NormalizeURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%q is not the class's URL: use the one on the instructor's screen, like http://192.168.1.20:8200", raw)
	}
	u.Path, u.RawQuery, u.Fragment = strings.TrimRight(u.Path, "/"), "", ""
	return u.String(), nil
}

// Join joins the class at classURL with its code; previous, the checkout's
// current membership of the same class, keeps its row.
func Join(ctx context.Context, client *http.Client, classURL, code, name string, previous *Membership) (*Membership, error) {
	classURL, err := NormalizeURL(classURL)
	if err != nil {
		return nil, err
	}
	req := JoinRequest{Code: code, Name: name}
	if previous != nil && previous.URL == classURL {
		req.Token = previous.Token
	}
	var resp JoinResponse
	if err := call(ctx, client, classURL+"/api/join", "", req, &resp); err != nil {
		return nil, err
	}
	return &Membership{URL: classURL, Name: resp.Name, Learner: resp.Learner, Token: resp.Token,
		Telemetry: resp.Telemetry, Joined: time.Now().UTC()}, nil
}

// statusError is an answer of the class server that is not a success.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// call POSTs v as JSON and decodes the answer into out.
func call(ctx context.Context, client *http.Client, url, token string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("the class at %s does not answer (%v): check the URL on the instructor's screen and that you are on the room's network",
			strings.TrimSuffix(strings.TrimSuffix(url, "/api/join"), "/api/results"), unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		msg := resp.Status
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = clean(e.Error, maxLong, false)
		}
		return &statusError{resp.StatusCode, msg}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the class answered something that is not its JSON: is %s a workshop class? (%v)", url, err)
	}
	return nil
}

// unwrapURLError drops the "Post URL:" prefix net/http puts on errors: the
// URL is already in the sentence.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("no answer in time")
	}
	return err
}

// PostTimeout bounds what a check spends on the board, all posts included:
// a board that is down or slow never holds a learner's check longer.
const PostTimeout = 2 * time.Second

// pending is a result the board did not take yet.
type pending struct {
	Stage     int             `json:"stage"`
	CheckedAt time.Time       `json:"checked_at"`
	Attempts  int             `json:"attempts"`
	Result    json.RawMessage `json:"result"`
}

// Delivery says what happened to a check's result.
type Delivery struct {
	Posted  bool  // the board took this check's result
	Retry   bool  // it did not, and goes with the next check
	Earlier int   // results of earlier checks that reached the board now
	Kept    int   // results kept for the next check
	Dropped int   // earlier results given up after their retry
	Err     error // why this result did not reach the board
	Gone    bool  // the board no longer knows this checkout
}

// Deliver posts a check's result (check JSON) to the class, with the
// results earlier checks could not deliver, within PostTimeout. What fails
// is kept for one more try with the next check. It never returns an error
// to fail the check with: what happened is in the Delivery.
func Deliver(ctx context.Context, client *http.Client, root string, m *Membership, stage int, result []byte, checkedAt time.Time) Delivery {
	ctx, cancel := context.WithTimeout(ctx, PostTimeout)
	defer cancel()
	var queue []pending
	if b, err := os.ReadFile(pendingPath(root)); err == nil {
		_ = json.Unmarshal(b, &queue)
	}
	// This check first: if time runs out, the newest result matters most.
	// An earlier result of the same stage is superseded by it.
	current := pending{Stage: stage, CheckedAt: checkedAt, Result: result}
	queue = append([]pending{current}, filterOut(queue, stage)...)

	var d Delivery
	var keep []pending
	down := false
	for i, p := range queue {
		if down || d.Gone { // not tried: kept as it was
			keep = append(keep, p)
			continue
		}
		var resp PostResponse
		err := call(ctx, client, m.URL+"/api/results", m.Token, Post{AgeMS: max(0, time.Since(p.CheckedAt).Milliseconds()), Result: p.Result}, &resp)
		var se *statusError
		isStatus := errors.As(err, &se)
		switch {
		case err == nil && i == 0:
			d.Posted = true
		case err == nil:
			d.Earlier++
		case isStatus && se.status == http.StatusUnauthorized:
			d.Gone = true
		case isStatus && se.status/100 == 4 && se.status != http.StatusTooManyRequests:
			// The board refuses this result as it is: retrying will not help.
			if i > 0 {
				d.Dropped++
			}
		case p.Attempts >= 1: // that was its one retry
			d.Dropped++
		default:
			p.Attempts++
			keep = append(keep, p)
			d.Retry = d.Retry || i == 0
		}
		if err != nil && i == 0 {
			d.Err = err
		}
		if err != nil && !isStatus {
			down = true // the board is unreachable: do not wait on it again
		}
	}
	if d.Gone {
		keep = nil
	}
	d.Kept = len(keep)
	if len(keep) == 0 {
		_ = os.Remove(pendingPath(root))
	} else if b, err := json.Marshal(keep); err == nil {
		_ = writeFile(pendingPath(root), b)
	}
	return d
}

func filterOut(queue []pending, stage int) []pending {
	var out []pending
	for _, p := range queue {
		if p.Stage != stage && len(out) < 8 {
			out = append(out, p)
		}
	}
	return out
}

// Notice is the line `workshop check` prints about the board, "" for none.
func (d Delivery) Notice(m *Membership) string {
	switch {
	case d.Gone:
		return "class: " + notInClass + " (or workshop class leave)"
	case d.Posted:
		msg := fmt.Sprintf("class: result posted to the board at %s as %s", m.URL, m.Name)
		if d.Earlier > 0 {
			msg += fmt.Sprintf(", with %d earlier result(s) that had not reached it", d.Earlier)
		}
		return msg
	case d.Err != nil && d.Retry:
		return fmt.Sprintf("class: the board did not take this result (%v); it goes with your next check. Your check is not affected.", d.Err)
	case d.Err != nil:
		return fmt.Sprintf("class: the board refused this result (%v). Your check is not affected.", d.Err)
	}
	return ""
}
