// Package class is the instructor's room: `workshop class serve` runs a
// small server on the instructor's laptop that learners join with a code;
// their `workshop check` results appear on a live board, and `workshop up
// --share` sends their services' telemetry to it, where the instructor
// opens anyone's traces in the viewer. The learners' side (joining, posting
// a result without ever slowing a check, sharing telemetry) is in this
// package too. Everything works offline, with no Docker, in one binary.
package class

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
	"github.com/go-o11y-workshop/kit/workshop/internal/viewer"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Limits bound what learners can make the server hold or do. Zero fields
// take the defaults.
type Limits struct {
	MaxLearners        int           // rows on the board (default 500)
	ResultEvery        time.Duration // one result per learner per ResultEvery, sustained (default 2 s)
	ResultBurst        int           // results a learner may post at once (default 10: a retry and the new one)
	OTLPBytesPerSecond int           // telemetry per learner, sustained (default 256 KiB/s)
	MaxOTLPBody        int64         // one export request, also the burst (default 4 MiB)
	Telemetry          otlp.Limits   // each learner's telemetry store (default 50 traces of at most 200 spans, 300 log lines per service, 2 MB)
	MaxWatchers        int           // live board pages open at once (default 200)
	JoinFailures       int           // wrong codes per address per minute (default 10)
}

// DefaultLimits are the limits of zero Limits.
var DefaultLimits = Limits{
	MaxLearners: 500, ResultEvery: 2 * time.Second, ResultBurst: 10,
	OTLPBytesPerSecond: 256 << 10, MaxOTLPBody: 4 << 20,
	Telemetry: otlp.Limits{MaxTraces: 50, MaxSpansPerTrace: 200, MaxLogsPerService: 300, MaxLogServices: 8,
		MaxValueBytes: 1 << 10, MaxLogLineBytes: 4 << 10, MaxBytes: 2 << 20},
	MaxWatchers: 200, JoinFailures: 10,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	l.MaxLearners = pick(l.MaxLearners, d.MaxLearners)
	if l.ResultEvery <= 0 {
		l.ResultEvery = d.ResultEvery
	}
	l.ResultBurst = pick(l.ResultBurst, d.ResultBurst)
	l.OTLPBytesPerSecond = pick(l.OTLPBytesPerSecond, d.OTLPBytesPerSecond)
	if l.MaxOTLPBody <= 0 {
		l.MaxOTLPBody = d.MaxOTLPBody
	}
	if l.Telemetry == (otlp.Limits{}) {
		l.Telemetry = d.Telemetry
	}
	l.MaxWatchers = pick(l.MaxWatchers, d.MaxWatchers)
	l.JoinFailures = pick(l.JoinFailures, d.JoinFailures)
	return l
}

// Options configure a class server.
type Options struct {
	// DataDir holds the state file; the board survives a restart on it.
	DataDir string
	// Admin is the secret that lets the instructor remove a row or reset
	// the class; "" turns those actions off.
	Admin string
	// URL is the address learners reach the server at, shown on the join
	// page; "" takes it from each request.
	URL string
	// Telemetry is an OTLP/HTTP endpoint (a collector in front of Tempo)
	// that joining learners are told to share their telemetry with instead
	// of this server; "" means this server.
	Telemetry string
	// Code sets the class code (ValidCode); "" keeps the stored one, or
	// makes a new one for a new class.
	Code string
	// Exercises names the steps that have an exercise, so the board says
	// "exercise 4.3" rather than "step 4.3"; nil is fine.
	Exercises map[string]bool
	Limits    Limits
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is a class: its board, its learners and their telemetry. It is an
// http.Handler; Close it to release the state file.
type Server struct {
	opts    Options
	limits  Limits
	db      *db
	code    string
	created time.Time
	admin   []byte // sha256 of the admin secret; nil when admin is off
	key     []byte // signs the admin cookie; new at every start
	mux     *http.ServeMux
	pages   map[string]*template.Template

	mu       sync.RWMutex
	learners map[string]*member // by id
	byToken  map[string]*member // by token hash
	changed  chan struct{}      // closed and replaced at every change of the board

	joinFails *addrLimiter
	watchers  atomic.Int32
	done      chan struct{} // closed by Close: ends the live streams
	closeOnce sync.Once
	stopOnce  sync.Once

	// Changes reach the state file a moment later, in one transaction for
	// all of them: a room posting at once never waits on the disk.
	dbMu        sync.Mutex              // orders the writes (taken before mu)
	dirty       map[string]map[int]bool // learner id → stages whose result changed; under mu
	stopPersist chan struct{}
	persisted   chan struct{}
}

// persistEvery is how often changes are written to the state file; a
// crash loses at most this much, a clean stop nothing.
const persistEvery = 250 * time.Millisecond

// member is a learner with what the server holds for them.
type member struct {
	Learner
	results   map[int]Stored // by stage
	posts     *rate.Limiter
	otlpBytes *rate.Limiter
	telemetry *otlp.Store
	receiver  *otlp.Receiver
	// The viewer of the learner's telemetry is made when first opened:
	// most learners' never is, and parsing its pages takes a moment.
	viewerOnce sync.Once
	viewer     http.Handler
}

func (m *member) telemetryViewer() http.Handler {
	m.viewerOnce.Do(func() {
		base := "/learners/" + m.ID + "/telemetry"
		m.viewer = http.StripPrefix(base, viewer.New(m.telemetry, viewer.Options{
			Title: m.Name, BasePath: base, Back: &viewer.Link{Label: "the class board", URL: "/"}}))
	})
	return m.viewer
}

// New opens (or creates) the class in opts.DataDir.
func New(opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("the class needs a data folder")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, limits: opts.Limits.withDefaults(), learners: map[string]*member{},
		byToken: map[string]*member{}, changed: make(chan struct{}), done: make(chan struct{}),
		dirty: map[string]map[int]bool{}, stopPersist: make(chan struct{}), persisted: make(chan struct{})}
	s.joinFails = newAddrLimiter(rate.Every(time.Minute/time.Duration(s.limits.JoinFailures)), s.limits.JoinFailures)
	if opts.Admin != "" {
		h := sha256.Sum256([]byte(opts.Admin))
		s.admin = h[:]
	}
	s.key = make([]byte, 32)
	_, _ = rand.Read(s.key)

	var err error
	if s.db, err = openDB(opts.DataDir); err != nil {
		return nil, err
	}
	if err := s.loadState(); err != nil {
		s.db.close()
		return nil, err
	}
	s.pages = parsePages()
	s.mux = s.routes()
	go s.persister()
	return s, nil
}

func (s *Server) persister() {
	defer close(s.persisted)
	tick := time.NewTicker(persistEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.flush()
		case <-s.stopPersist:
			s.flush()
			return
		}
	}
}

// markLocked notes that a learner (and their result of stage, if > 0)
// must be written. The caller holds mu.
func (s *Server) markLocked(id string, stage int) {
	st := s.dirty[id]
	if st == nil {
		st = map[int]bool{}
		s.dirty[id] = st
	}
	if stage > 0 {
		st[stage] = true
	}
}

// flush writes what changed since the last flush.
func (s *Server) flush() {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	s.mu.Lock()
	if len(s.dirty) == 0 {
		s.mu.Unlock()
		return
	}
	dirty := s.dirty
	s.dirty = map[string]map[int]bool{}
	var learners []Learner
	results := map[string][]Stored{}
	for id, stages := range dirty {
		m, ok := s.learners[id]
		if !ok {
			continue
		}
		learners = append(learners, m.Learner)
		for n := range stages {
			results[id] = append(results[id], m.results[n])
		}
	}
	s.mu.Unlock()
	if err := s.db.write(learners, results); err != nil {
		slog.Error("class: saving the class's state; trying again", "error", err)
		s.mu.Lock()
		for id, stages := range dirty {
			if _, ok := s.learners[id]; ok {
				for n := range stages {
					s.markLocked(id, n)
				}
				s.markLocked(id, 0)
			}
		}
		s.mu.Unlock()
	}
}

func (s *Server) loadState() error {
	code, created, err := s.db.meta()
	if err != nil {
		return err
	}
	if created.IsZero() {
		created = s.opts.Now().UTC()
	}
	want := code
	switch {
	case s.opts.Code != "":
		want = normCode(s.opts.Code)
		if err := ValidCode(want); err != nil {
			return err
		}
	case code == "":
		want = newCode()
	}
	if want != code {
		if err := s.db.setMeta(want, created); err != nil {
			return err
		}
		code = want
	}
	s.code, s.created = code, created
	learners, results, err := s.db.load()
	if err != nil {
		return fmt.Errorf("reading the class's state (%s in %s): %w", DBFile, s.opts.DataDir, err)
	}
	for _, l := range learners {
		m := s.newMember(l)
		for n, r := range results[l.ID] {
			m.results[n] = r
		}
		s.learners[l.ID] = m
		s.byToken[l.TokenHash] = m
	}
	return nil
}

func (s *Server) newMember(l Learner) *member {
	m := &member{Learner: l, results: map[int]Stored{},
		posts:     rate.NewLimiter(rate.Every(s.limits.ResultEvery), s.limits.ResultBurst),
		otlpBytes: rate.NewLimiter(rate.Limit(s.limits.OTLPBytesPerSecond), int(s.limits.MaxOTLPBody)),
		telemetry: otlp.NewStore(s.limits.Telemetry),
	}
	m.receiver = otlp.NewReceiver(m.telemetry)
	m.receiver.MaxBodyBytes = s.limits.MaxOTLPBody
	// The row's name is the learner attribute, whatever the sender said.
	m.receiver.OnExport = func(req proto.Message) { SetLearner(req, l.Name) }
	return m
}

// Code is the class code learners join with.
func (s *Server) Code() string { return s.code }

// AdminEnabled reports whether an admin secret was given.
func (s *Server) AdminEnabled() bool { return s.admin != nil }

// ServeHTTP serves the board, the API and the telemetry receiver.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The pages run no script but the board's own file: whatever a learner
	// managed to post can never execute.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// Serve serves the class on ln until ctx ends. Then the live pages are
// told to end, requests in flight finish (a few seconds at most), and it
// returns; Close the server after.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10,
		ErrorLog: log.New(io.Discard, "", 0)} // a learner's dropped connection is not the instructor's problem
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.endStreams()
	drain, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(drain)
	if errors.Is(err, context.DeadlineExceeded) {
		// A browser's speculative connection that never sent a request
		// counts as busy for 5 s: close it rather than wait.
		err = srv.Close()
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

func (s *Server) endStreams() { s.closeOnce.Do(func() { close(s.done) }) }

// Close ends the live streams, writes what changed, and closes the state
// file.
func (s *Server) Close() error {
	s.endStreams()
	var err error
	s.stopOnce.Do(func() {
		close(s.stopPersist)
		<-s.persisted
		err = s.db.close()
	})
	return err
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.boardPage)
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /join", s.joinPage)
	mux.HandleFunc("GET /learners/{id}", s.reportPage)
	mux.HandleFunc("/learners/{id}/telemetry/", s.telemetryPage)
	mux.HandleFunc("GET /export.csv", s.exportCSV)
	mux.HandleFunc("GET /export.json", s.exportJSON)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST /api/join", s.join)
	mux.HandleFunc("POST /api/results", s.postResult)
	mux.HandleFunc("POST "+otlp.TracesPath, s.otlpExport)
	mux.HandleFunc("POST "+otlp.LogsPath, s.otlpExport)
	mux.HandleFunc("GET /admin", s.adminPage)
	mux.HandleFunc("POST /admin/login", s.adminLogin)
	mux.HandleFunc("POST /admin/learners/{id}/remove", s.adminRemove)
	mux.HandleFunc("POST /admin/reset", s.adminReset)
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "notfound", page{Heading: "Not found", Data: "There is no page at " + r.URL.Path + "."})
	})
	return mux
}

// ---- the protocol ----

// JoinRequest is the body of POST /api/join.
type JoinRequest struct {
	Code string `json:"code"`
	Name string `json:"name"`
	// Token, when this checkout already joined, keeps its row (a re-join
	// may change the name).
	Token string `json:"token,omitempty"`
}

// JoinResponse answers a join.
type JoinResponse struct {
	Learner   string `json:"learner"` // the row's id, in the board's URLs
	Name      string `json:"name"`
	Token     string `json:"token"`
	Telemetry string `json:"telemetry,omitempty"` // where to share telemetry, when not this server
}

// MaxNameRunes bounds a learner's name.
const MaxNameRunes = 40

const maxJoinBody = 4 << 10

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	addr := remoteAddr(r)
	if !s.joinFails.ok(addr) {
		writeError(w, http.StatusTooManyRequests, "too many wrong class codes from your address: check the code on the projector and try again in a minute")
		return
	}
	var req JoinRequest
	if err := readJSON(w, r, maxJoinBody, &req); err != nil {
		writeError(w, err.status, err.msg)
		return
	}
	if !s.codeMatches(req.Code) {
		s.joinFails.fail(addr)
		writeError(w, http.StatusForbidden, "wrong class code: use the code the instructor shows (letters and digits, like K7QF3M)")
		return
	}
	name, err := cleanName(req.Name)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Token != "" {
		if m, ok := s.byToken[hashToken(req.Token)]; ok {
			s.rejoin(w, m, name, req.Token)
			return
		}
	}
	if m := s.byNameLocked(name); m != nil {
		writeError(w, http.StatusConflict, fmt.Sprintf("the name %q is taken in this class: join with another one, e.g. --name %q "+
			"(if that row is yours from another checkout, the instructor can remove it)", name, name+" "+initialHint(name)))
		return
	}
	if len(s.learners) >= s.limits.MaxLearners {
		writeError(w, http.StatusForbidden, fmt.Sprintf("the class is full (%d learners)", s.limits.MaxLearners))
		return
	}
	token := newToken()
	now := s.opts.Now().UTC()
	m := s.newMember(Learner{ID: s.newIDLocked(name), Name: name, TokenHash: hashToken(token), Joined: now})
	s.markLocked(m.ID, 0)
	s.learners[m.ID] = m
	s.byToken[m.TokenHash] = m
	s.notifyLocked()
	writeJSON(w, http.StatusCreated, JoinResponse{Learner: m.ID, Name: m.Name, Token: token, Telemetry: s.opts.Telemetry})
}

// rejoin answers a join from a checkout that already has a row.
func (s *Server) rejoin(w http.ResponseWriter, m *member, name, token string) {
	if !strings.EqualFold(name, m.Name) {
		if other := s.byNameLocked(name); other != nil && other != m {
			writeError(w, http.StatusConflict, fmt.Sprintf("the name %q is taken in this class: join with another one", name))
			return
		}
	}
	if name != m.Name {
		// The row keeps its id (and URL); its name and the telemetry's
		// learner attribute change.
		updated := m.Learner
		updated.Name = name
		s.markLocked(m.ID, 0)
		fresh := s.newMember(updated)
		fresh.results, fresh.posts, fresh.otlpBytes = m.results, m.posts, m.otlpBytes
		s.learners[m.ID], s.byToken[m.TokenHash] = fresh, fresh
		s.notifyLocked()
		m = fresh
	}
	writeJSON(w, http.StatusOK, JoinResponse{Learner: m.ID, Name: m.Name, Token: token, Telemetry: s.opts.Telemetry})
}

func (s *Server) codeMatches(code string) bool {
	code = normCode(code)
	return subtle.ConstantTimeCompare([]byte(code), []byte(s.code)) == 1
}

func (s *Server) byNameLocked(name string) *member {
	for _, m := range s.learners {
		if strings.EqualFold(m.Name, name) {
			return m
		}
	}
	return nil
}

// newIDLocked makes a URL-safe id from the name, unique in the class.
func (s *Server) newIDLocked(name string) string {
	base := slug(name)
	id := base
	for i := 2; s.learners[id] != nil; i++ {
		id = fmt.Sprintf("%s-%d", base, i)
	}
	return id
}

// authenticate finds the learner of the request's bearer token.
func (s *Server) authenticate(r *http.Request) (*member, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return nil, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	m, ok := s.byToken[hashToken(token)]
	return m, ok
}

const notInClass = "this checkout's token is not in the class (the instructor removed the row or reset the class): " +
	"join again with workshop class join URL CODE --name NAME"

// PostResponse answers a posted result.
type PostResponse struct {
	Stored bool   `json:"stored"` // false when the board already had a newer result of that stage
	Board  string `json:"board"`  // the learner's row
}

func (s *Server) postResult(w http.ResponseWriter, r *http.Request) {
	m, ok := s.authenticate(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, notInClass)
		return
	}
	if res := m.posts.Reserve(); !res.OK() || res.Delay() > 0 {
		retry := res.Delay()
		res.Cancel()
		w.Header().Set("Retry-After", fmt.Sprint(int(retry.Seconds())+1))
		writeError(w, http.StatusTooManyRequests, "too many results at once: the board keeps your next check's")
		return
	}
	var post Post
	if err := readJSON(w, r, MaxResultBytes+1024, &post); err != nil {
		writeError(w, err.status, err.msg)
		return
	}
	result, err := DecodeResult(post.Result)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	age := time.Duration(min(max(post.AgeMS, 0), int64(maxAge/time.Millisecond))) * time.Millisecond
	stored, err := s.store(m.ID, age, result)
	if err != nil {
		writeError(w, http.StatusUnauthorized, notInClass)
		return
	}
	writeJSON(w, http.StatusOK, PostResponse{Stored: stored, Board: "/learners/" + m.ID})
}

var errGone = errors.New("the learner was removed")

// maxAge bounds how old a posted result may say it is.
const maxAge = 24 * time.Hour

// store keeps a result unless the board has a newer one of its stage, and
// moves the learner's position when it is their newest result.
func (s *Server) store(id string, age time.Duration, result Result) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.learners[id]
	if !ok {
		return false, errGone
	}
	l := m.Learner
	now := s.opts.Now().UTC()
	r := Stored{CheckedAt: now.Add(-age), Received: now, Result: result}
	if r.CheckedAt.Before(l.Joined) {
		r.CheckedAt = l.Joined
	}
	l.Seen, l.Posts = r.Received, l.Posts+1
	old, had := m.results[r.Result.Stage]
	keep := !had || !old.CheckedAt.After(r.CheckedAt)
	if keep && !r.CheckedAt.Before(m.newest()) {
		stage, step := r.Result.Stage, ""
		switch c, failed := failing(r.Result); {
		case r.Result.Setup != "" && stage == l.Stage:
			step = l.Step // a build failure says nothing of the step: still on it
		case failed:
			step = c.Step
		}
		if stage != l.Stage || step != l.Step || l.StepSince.IsZero() {
			l.StepSince = r.CheckedAt
		}
		l.Stage, l.Step = stage, step
	}
	m.Learner = l
	s.markLocked(id, 0)
	if keep {
		m.results[r.Result.Stage] = r
		s.markLocked(id, r.Result.Stage)
	}
	s.notifyLocked()
	return keep, nil
}

// newest is when the learner's newest result was checked.
func (m *member) newest() time.Time {
	var t time.Time
	for _, r := range m.results {
		if r.CheckedAt.After(t) {
			t = r.CheckedAt
		}
	}
	return t
}

// otlpExport receives a learner's telemetry into their own store.
func (s *Server) otlpExport(w http.ResponseWriter, r *http.Request) {
	m, ok := s.authenticate(r)
	if !ok {
		http.Error(w, "OTLP to the class needs the learner's token (Authorization: Bearer ...): "+notInClass, http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.limits.MaxOTLPBody))
	if err != nil {
		http.Error(w, fmt.Sprintf("body larger than %d bytes: send smaller batches", s.limits.MaxOTLPBody), http.StatusRequestEntityTooLarge)
		return
	}
	if !m.otlpBytes.AllowN(time.Now(), max(1, len(body))) {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too much telemetry from one learner: the class keeps a sample; your own viewer has it all", http.StatusTooManyRequests)
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	m.receiver.ServeHTTP(w, r)
}

// ---- pages ----

// boardData is what the board's table needs: the board, and the admin's
// controls on the admin page.
type boardData struct {
	Board Board
	Admin bool
	CSRF  string
}

type page struct {
	Heading string
	Nav     string
	Data    any
	Admin   bool // the admin's view
	Live    bool // load the board's script
}

func parsePages() map[string]*template.Template {
	pages := map[string]*template.Template{}
	for _, name := range []string{"board", "report", "join", "admin", "notfound"} {
		pages[name] = template.Must(template.New(name).Funcs(funcs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html", "templates/table.html"))
	}
	pages["fragment"] = template.Must(template.New("fragment").Funcs(funcs).ParseFS(templateFS, "templates/table.html"))
	return pages
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf strings.Builder
	var err error
	if name == "fragment" {
		err = s.pages[name].ExecuteTemplate(&buf, "board", p.Data)
	} else {
		err = s.pages[name].ExecuteTemplate(&buf, "layout", p)
	}
	if err != nil {
		slog.Error("class: rendering a page", "page", name, "error", err)
		http.Error(w, "the board failed to render this page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, buf.String())
}

func (s *Server) boardPage(w http.ResponseWriter, r *http.Request) {
	view := boardData{Board: s.board(r.URL.Query().Get("sort"), r.URL.Query().Get("step"))}
	if r.URL.Query().Get("fragment") == "1" {
		s.render(w, r, http.StatusOK, "fragment", page{Data: view})
		return
	}
	s.render(w, r, http.StatusOK, "board", page{Heading: "The class", Nav: "board", Data: view, Live: true})
}

// watchDebounce is the least time between two live updates of one page.
const watchDebounce = time.Second

// events streams "changed" to a board page whenever the board changes (at
// most once a second), so it refreshes itself without polling.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if int(s.watchers.Add(1)) > s.limits.MaxWatchers {
		s.watchers.Add(-1)
		http.Error(w, "too many open boards; this one refreshes by itself every few seconds instead", http.StatusServiceUnavailable)
		return
	}
	defer s.watchers.Add(-1)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	send := func(msg string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(w, msg); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// Subscribed before the first write, and again as soon as a change
	// wakes it: a change while it writes or waits out the debounce is then
	// sent after it, never missed (the page would stay stale until the
	// next one).
	changed := s.changedChan()
	if !send("retry: 5000\n\n") {
		return
	}
	ping := time.NewTicker(25 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-changed:
			changed = s.changedChan()
			if !send("event: changed\ndata: {}\n\n") {
				return
			}
			select { // at most one update a second, however busy the room
			case <-time.After(watchDebounce):
			case <-r.Context().Done():
				return
			case <-s.done:
				return
			}
		case <-ping.C:
			if !send(": ping\n\n") {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

func (s *Server) changedChan() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// notifyLocked wakes the live pages. The caller holds the write lock.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Watchers is how many live board pages are open.
func (s *Server) Watchers() int { return int(s.watchers.Load()) }

func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) {
	view, ok := s.report(r.PathValue("id"), r.URL.Query().Get("stage"))
	if !ok {
		s.render(w, r, http.StatusNotFound, "notfound", page{Heading: "Not found", Data: "No learner " + r.PathValue("id") + " in this class."})
		return
	}
	s.render(w, r, http.StatusOK, "report", page{Heading: view.Name, Nav: "board", Data: view})
}

func (s *Server) telemetryPage(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	m, ok := s.learners[r.PathValue("id")]
	s.mu.RUnlock()
	if !ok {
		s.render(w, r, http.StatusNotFound, "notfound", page{Heading: "Not found", Data: "No learner " + r.PathValue("id") + " in this class."})
		return
	}
	// The viewer's pages carry their own policy needs: its stylesheet only.
	m.telemetryViewer().ServeHTTP(w, r)
}

type joinView struct {
	URL, Code string
	Wrong     bool
}

func (s *Server) joinPage(w http.ResponseWriter, r *http.Request) {
	v := joinView{URL: s.publicURL(r)}
	if code := r.URL.Query().Get("code"); code != "" {
		addr := remoteAddr(r)
		switch {
		case !s.joinFails.ok(addr):
			v.Wrong = true
		case s.codeMatches(code):
			v.Code = s.code
		default:
			s.joinFails.fail(addr)
			v.Wrong = true
		}
	}
	s.render(w, r, http.StatusOK, "join", page{Heading: "Join the class", Nav: "join", Data: v})
}

// publicURL is where learners reach this server.
func (s *Server) publicURL(r *http.Request) string {
	if s.opts.URL != "" {
		return strings.TrimRight(s.opts.URL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ---- helpers ----

type requestError struct {
	status int
	msg    string
}

// readJSON decodes a bounded JSON body into v.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) *requestError {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit)}
		}
		return &requestError{http.StatusBadRequest, "reading the body: " + err.Error()}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &requestError{http.StatusBadRequest, "the body is not the JSON expected: " + err.Error()}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// codeAlphabet has no letters or digits that read alike (0/O, 1/I/L, 2/Z,
// 5/S, 8/B), so a code read off a projector is typed right.
const codeAlphabet = "ACDEFGHJKMNPQRTUVWXY34679"

// CodeLength is the length of a class code.
const CodeLength = 6

// ValidCode checks a class code chosen by the instructor.
func ValidCode(code string) error {
	code = normCode(code)
	if len(code) < 4 || len(code) > 16 || strings.Trim(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		return fmt.Errorf("the class code %q: use 4 to 16 letters and digits", code)
	}
	return nil
}

func newCode() string {
	b := make([]byte, CodeLength)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b)
}

// normCode reads a code as typed: any case, spaces and dashes ignored.
func normCode(code string) string {
	code = strings.ToUpper(code)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, code)
}

// cleanName checks a learner's name: printable, 1 to MaxNameRunes runes,
// inner whitespace collapsed.
func cleanName(name string) (string, error) {
	name = strings.Join(strings.Fields(clean(name, 4*MaxNameRunes+8, false)), " ")
	switch n := len([]rune(name)); {
	case n == 0:
		return "", errors.New("a name is needed: --name \"Your Name\" (it is shown on the board)")
	case n > MaxNameRunes:
		return "", fmt.Errorf("the name is %d characters long; at most %d", n, MaxNameRunes)
	case strings.Contains(name, "…"):
		return "", fmt.Errorf("the name is too long; at most %d characters", MaxNameRunes)
	}
	return name, nil
}

// initialHint suggests how to tell two people of the same name apart.
func initialHint(name string) string {
	if strings.ContainsRune(name, ' ') {
		return "2"
	}
	return "K."
}

// slug is a lowercase ASCII id for URLs: "Zoë Smith" → "zo-smith".
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 24 {
			break
		}
	}
	id := strings.Trim(b.String(), "-")
	if id == "" {
		id = "learner"
	}
	return id
}

// addrLimiter counts failures per address (wrong class codes), so a code
// cannot be guessed, while a room behind one NAT still joins at once.
type addrLimiter struct {
	mu    sync.Mutex
	every rate.Limit
	burst int
	addrs map[string]*rate.Limiter
}

func newAddrLimiter(every rate.Limit, burst int) *addrLimiter {
	return &addrLimiter{every: every, burst: burst, addrs: map[string]*rate.Limiter{}}
}

func (a *addrLimiter) limiter(addr string) *rate.Limiter {
	l, ok := a.addrs[addr]
	if !ok {
		if len(a.addrs) >= 10000 { // bounded: forget everyone rather than grow
			clear(a.addrs)
		}
		l = rate.NewLimiter(a.every, a.burst)
		a.addrs[addr] = l
	}
	return l
}

// ok reports whether addr may try (it has failures left).
func (a *addrLimiter) ok(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limiter(addr).Tokens() >= 1
}

// fail counts a failure of addr.
func (a *addrLimiter) fail(addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.limiter(addr).Allow()
}
