package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-o11y-workshop/kit/workshop/internal/check"
	"github.com/go-o11y-workshop/kit/workshop/internal/class"
	"github.com/go-o11y-workshop/kit/workshop/internal/lesson"
	"github.com/go-o11y-workshop/kit/workshop/internal/repo"
)

const classSynopsis = "serve|join|leave|status|export|load [arguments]"

// classClient talks to the class server from a learner's checkout.
var classClient = &http.Client{Timeout: 10 * time.Second}

func runClass(env *Env, args []string) error {
	sub := "status"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		writeClassUsage(env.Stderr)
		return flag.ErrHelp
	}
	switch sub {
	case "serve":
		return runClassServe(env, args)
	case "join":
		return runClassJoin(env, args)
	case "leave":
		return runClassLeave(env, args)
	case "status":
		return runClassStatus(env, args)
	case "export":
		return runClassExport(env, args)
	case "load":
		return runClassLoad(env, args)
	}
	return usagef("unknown class command %q; valid: serve, join, leave, status, export, load (workshop class --help)", sub)
}

func writeClassUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: workshop class `+classSynopsis+`

The instructor's room: a live board of the class's checks, and its telemetry.

  serve [--addr :8200] [--data DIR] [--admin SECRET]
                      instructor: open the class (prints the join command and a QR code)
  join URL CODE --name NAME
                      learner: join; every workshop check then posts its result to the board
  leave               learner: stop posting and sharing
  status              which class this checkout is in
  export [--data DIR] [--csv|--json]
                      instructor, after the day: the class's results (like workshop grade)
  load [--learners 150] [--every 10s] [--for 5m]
                      maintainers: a simulated room against a class server, with its numbers

Run `+"`workshop class SUBCOMMAND --help`"+` for a subcommand's flags.
`)
}

// ---- serve ----

func runClassServe(env *Env, args []string) error {
	fs := newFlags(env, "class", "serve [--addr :8200] [--data DIR] [--admin SECRET] [--url URL] [--code CODE] [--telemetry URL] [--no-qr]")
	addr := fs.String("addr", ":8200", "where to listen: every interface by default, because the learners' laptops must reach it")
	data := fs.String("data", "", "the folder of the class's state (default: .workshop/class in the checkout, else ./workshop-class)")
	admin := fs.String("admin", "", "the secret that lets you remove a row or reset the class (default $WORKSHOP_CLASS_ADMIN; none: those actions are off)")
	publicURL := fs.String("url", "", "the URL learners reach the class at, when it is not this machine's address (a container, a proxy)")
	code := fs.String("code", "", "the class code, 4 to 16 letters and digits (default: the class's own, made at its first start)")
	telemetry := fs.String("telemetry", "", "an OTLP/HTTP endpoint (a collector in front of Tempo) that learners' `up --share` sends to instead of this server")
	noQR := fs.Bool("no-qr", false, "print no QR code")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("class serve takes no arguments, only flags (see --help)")
	}
	if *admin == "" {
		*admin = os.Getenv("WORKSHOP_CLASS_ADMIN")
	}
	if *code != "" {
		if err := class.ValidCode(*code); err != nil {
			return usageError{err.Error()}
		}
	}
	for flag, u := range map[string]*string{"--url": publicURL, "--telemetry": telemetry} {
		if *u != "" {
			norm, err := class.NormalizeURL(*u)
			if err != nil {
				return usagef("%s: %v", flag, err)
			}
			*u = norm
		}
	}
	root, rootErr := env.root()
	if *data == "" {
		*data = filepath.Join(env.Dir, "workshop-class")
		if rootErr == nil {
			*data = filepath.Join(root, ".workshop", "class")
		}
	} else if !filepath.IsAbs(*data) {
		*data = filepath.Join(env.Dir, *data)
	}

	srv, err := class.New(class.Options{DataDir: *data, Admin: *admin, URL: *publicURL, Code: *code,
		Telemetry: *telemetry, Exercises: exerciseSteps(root, rootErr)})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("the class cannot listen on %s (%v): choose another with --addr", *addr, err)
	}
	announceClass(env, srv, ln.Addr().(*net.TCPAddr), *addr, *publicURL, *data, !*noQR)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	err = srv.Serve(ctx, ln)
	fmt.Fprintln(env.Stdout, "the class is closed; its board is kept in "+filepath.Join(*data, class.DBFile)+" for the next start (or workshop class export)")
	return err
}

// exerciseSteps are the steps that have an exercise, from the lessons of
// the checkout the server runs in (none outside one: it then says "step").
func exerciseSteps(root string, rootErr error) map[string]bool {
	if rootErr != nil {
		return nil
	}
	out := map[string]bool{}
	for n := 1; n <= repo.Stages; n++ {
		s, err := lesson.Load(root, n)
		if err != nil {
			continue
		}
		for _, st := range s.Steps {
			if st.Exercise != "" {
				out[st.ID] = true
			}
		}
	}
	return out
}

// announceClass prints what the instructor puts on the projector.
func announceClass(env *Env, srv *class.Server, bound *net.TCPAddr, addr, publicURL, data string, qr bool) {
	w := env.Stdout
	port := strconv.Itoa(bound.Port)
	var urls []string
	switch {
	case publicURL != "":
		urls = []string{publicURL}
	case bound.IP.IsUnspecified():
		for _, ip := range class.LANAddresses() {
			urls = append(urls, "http://"+net.JoinHostPort(ip, port))
		}
	default:
		urls = []string{"http://" + net.JoinHostPort(bound.IP.String(), port)}
	}
	noNetwork := len(urls) == 0
	if noNetwork {
		urls = []string{"http://localhost:" + port}
	}
	fmt.Fprintf(w, "The class is open. Learners join with (class code %s):\n\n    %s\n\n", srv.Code(), class.JoinCommand(urls[0], srv.Code()))
	if qr {
		if code, err := class.QR(urls[0]+"/join?code="+srv.Code(), env.color()); err == nil {
			fmt.Fprint(w, code)
			fmt.Fprintf(w, "(the QR code opens %s/join?code=%s: the same command, to copy)\n\n", urls[0], srv.Code())
		}
	}
	fmt.Fprintf(w, "The board: %s", urls[0])
	if bound.IP.IsUnspecified() || bound.IP.IsLoopback() {
		fmt.Fprintf(w, " (on this machine: http://localhost:%s)", port)
	}
	fmt.Fprintln(w)
	if len(urls) > 1 {
		fmt.Fprintf(w, "Also reachable at: %s\n", strings.Join(urls[1:], ", "))
	}
	if noNetwork {
		fmt.Fprintln(w, "This machine has no network address the learners' laptops could reach: join the room's wifi (or pass --url).")
	}
	if bound.IP.IsUnspecified() {
		fmt.Fprintf(w, "Listening on every interface (%s) so the learners' laptops reach it; everything else in the kit listens on localhost only.\n", addr)
	}
	if srv.AdminEnabled() {
		fmt.Fprintf(w, "Instructor page (remove a row, reset the class): http://localhost:%s/admin\n", port)
	} else {
		fmt.Fprintln(w, "Admin actions are off: restart with --admin SECRET to remove a row or reset the class.")
	}
	fmt.Fprintf(w, "The board is kept in %s (it survives a restart). Ctrl-C closes the class.\n", filepath.Join(data, class.DBFile))
}

// ---- join, leave, status ----

func runClassJoin(env *Env, args []string) error {
	fs := newFlags(env, "class", "join URL CODE --name NAME")
	name := fs.String("name", "", "your name on the class board (up to 40 characters)")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return usagef(`class join needs the class's URL and code, as the instructor shows them: workshop class join http://192.168.1.20:8200 K7QF3M --name "Your Name"`)
	}
	if strings.TrimSpace(*name) == "" {
		return usagef(`class join needs your name for the board: --name "Your Name"`)
	}
	root, err := env.root()
	if err != nil {
		return err
	}
	prev, err := class.LoadMembership(root)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%v; joining afresh\n", err)
		prev = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	m, err := class.Join(ctx, classClient, rest[0], rest[1], *name, prev)
	if err != nil {
		return fmt.Errorf("joining the class: %w", err)
	}
	if err := m.Save(root); err != nil {
		return fmt.Errorf("saving the class in %s: %w", class.MembershipPath(root), err)
	}
	if prev != nil && prev.URL != m.URL {
		fmt.Fprintf(env.Stdout, "left the class at %s.\n", prev.URL)
	}
	fmt.Fprintf(env.Stdout, "joined the class at %s as %s.\n", m.URL, m.Name)
	fmt.Fprintln(env.Stdout, "From now on every `workshop check N` also posts its result to the class board,")
	fmt.Fprintln(env.Stdout, "and `workshop up N --share` shares your services' telemetry with the instructor.")
	fmt.Fprintln(env.Stdout, "`workshop class leave` stops both.")
	return nil
}

func runClassLeave(env *Env, args []string) error {
	fs := newFlags(env, "class", "leave")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("class leave takes no arguments")
	}
	root, err := env.root()
	if err != nil {
		return err
	}
	m, _ := class.LoadMembership(root)
	left, err := class.Leave(root)
	if err != nil {
		return err
	}
	if !left {
		fmt.Fprintln(env.Stdout, "this checkout is in no class.")
		return nil
	}
	where := "the class"
	if m != nil {
		where = "the class at " + m.URL
	}
	fmt.Fprintf(env.Stdout, "left %s: your checks and telemetry stay on this machine. Your row stays on the board until the instructor removes it.\n", where)
	return nil
}

func runClassStatus(env *Env, args []string) error {
	fs := newFlags(env, "class", "status")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	root, err := env.root()
	if err != nil {
		return err
	}
	m, err := class.LoadMembership(root)
	if err != nil {
		return err
	}
	if m == nil {
		fmt.Fprintln(env.Stdout, `this checkout is in no class. Join one with: workshop class join URL CODE --name "Your Name"`)
		return nil
	}
	fmt.Fprintf(env.Stdout, "in the class at %s as %s (your row: %s/learners/%s).\n", m.URL, m.Name, m.URL, m.Learner)
	endpoint, _ := m.TelemetryEndpoint()
	fmt.Fprintf(env.Stdout, "`workshop check N` posts its results there; `workshop up N --share` sends your telemetry to %s.\n", endpoint)
	return nil
}

// ---- export, after the day ----

func runClassExport(env *Env, args []string) error {
	fs := newFlags(env, "class", "export [--data DIR] [--csv|--json]")
	data := fs.String("data", "", "the class's data folder (default: .workshop/class in the checkout)")
	asCSV := fs.Bool("csv", false, "print CSV (the columns of workshop grade --csv)")
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("class export takes no arguments, only flags")
	}
	if *asCSV && *asJSON {
		return usagef("choose one of --csv and --json")
	}
	if *data == "" {
		root, err := env.root()
		if err != nil {
			return usagef("class export needs --data DIR outside a checkout")
		}
		*data = filepath.Join(root, ".workshop", "class")
	} else if !filepath.IsAbs(*data) {
		*data = filepath.Join(env.Dir, *data)
	}
	rows, err := class.ExportFile(*data)
	if err != nil {
		return err
	}
	switch {
	case *asCSV:
		return class.WriteCSV(env.Stdout, rows)
	case *asJSON:
		return class.WriteJSON(env.Stdout, rows)
	}
	fmt.Fprintf(env.Stdout, "%-24s", "learner")
	for n := 1; n <= repo.Stages; n++ {
		fmt.Fprintf(env.Stdout, "  stage %d", n)
	}
	fmt.Fprintln(env.Stdout, "  where")
	for _, r := range rows {
		fmt.Fprintf(env.Stdout, "%-24s", r.Learner)
		for n := 1; n <= repo.Stages; n++ {
			cell := "-"
			if st, ok := r.Stages[strconv.Itoa(n)]; ok {
				cell = fmt.Sprintf("%d/%d", st.Passed, st.Total)
			}
			fmt.Fprintf(env.Stdout, "  %7s", cell)
		}
		fmt.Fprintf(env.Stdout, "  %s\n", r.Position)
	}
	return nil
}

// ---- the check's and up's side ----

// postToClass hands a check's result to the class this checkout joined,
// and says in one line what happened; it does nothing when the checkout
// joined none. It never fails the check, and spends at most
// class.PostTimeout on the board.
func postToClass(env *Env, root string, n int, dir string, res *check.Result) {
	m, err := class.LoadMembership(root)
	if err != nil {
		fmt.Fprintf(env.Stderr, "class: %v\n", err)
		return
	}
	if m == nil {
		return
	}
	if filepath.Clean(dir) == repo.StageDir(root, n) {
		fmt.Fprintf(env.Stderr, "class: not posted: this checked the reference (stages/stage%d), not your exercise\n", n)
		return
	}
	j := res.ToJSON()
	if rel, err := filepath.Rel(root, dir); err == nil && !strings.HasPrefix(rel, "..") {
		j.Dir = filepath.ToSlash(rel)
	} else {
		j.Dir = filepath.Base(dir) // not the learner's home folder
	}
	body, err := json.Marshal(j)
	if err != nil {
		return
	}
	d := class.Deliver(context.Background(), classClient, root, m, n, body, time.Now().UTC())
	if line := d.Notice(m); line != "" {
		fmt.Fprintln(env.Stderr, line)
	}
}

// shareFlag is `up`'s --share: alone, the class this checkout joined;
// --share=URL, that OTLP/HTTP endpoint (a collector).
type shareFlag struct{ set, url string }

func (f *shareFlag) String() string   { return f.url }
func (f *shareFlag) IsBoolFlag() bool { return true }
func (f *shareFlag) Set(v string) error {
	switch v {
	case "true":
		f.set = "class"
	case "false":
		f.set = ""
	default:
		u, err := class.NormalizeURL(v)
		if err != nil {
			return err
		}
		f.set, f.url = "url", u
	}
	return nil
}

// shareOptions are the Sharer's options for `up --share`, from the class
// this checkout joined.
func shareOptions(root string, f shareFlag) (*class.ShareOptions, error) {
	if f.set == "" {
		return nil, nil
	}
	m, err := class.LoadMembership(root)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, usagef(`--share sends your services' telemetry to the class you joined, and this checkout joined none: workshop class join URL CODE --name "Your Name"`)
	}
	endpoint, withToken := m.TelemetryEndpoint()
	o := &class.ShareOptions{Endpoint: endpoint, Learner: m.Name}
	if withToken {
		o.Token = m.Token
	}
	if f.set == "url" {
		o.Endpoint, o.Token = f.url, ""
		if f.url == m.URL {
			o.Token = m.Token
		}
	}
	return o, nil
}

// closeSharer sends what is still queued (a few seconds at most) and says
// how the sharing went; nothing without a sharer.
func closeSharer(say func(string, ...any), sharer *class.Sharer) {
	if sharer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	sent, dropped := sharer.Close(ctx)
	msg := fmt.Sprintf("sharing: %d batch(es) of telemetry reached the class", sent)
	if dropped > 0 {
		msg += fmt.Sprintf(", %d did not (your viewer had them all)", dropped)
	}
	say("%s.", msg)
}

// ---- load, for maintainers ----

func runClassLoad(env *Env, args []string) error {
	fs := newFlags(env, "class", "load [--learners 150] [--every 10s] [--for 5m] [--spans 12] [--url URL --code CODE]")
	learners := fs.Int("learners", 150, "simulated learners")
	every := fs.Duration("every", 10*time.Second, "each posts a check result and sends a trace this often")
	dur := fs.Duration("for", 5*time.Minute, "how long the room runs")
	spans := fs.Int("spans", 12, "spans per trace")
	url := fs.String("url", "", "load this class server (default: start one on loopback, with a temporary folder)")
	code := fs.String("code", "", "its class code, with --url")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usagef("class load takes no arguments, only flags")
	case *learners < 1 || *learners > 1000:
		return usagef("--learners must be from 1 to 1000")
	case *every <= 0 || *dur <= 0:
		return usagef("--every and --for must be positive")
	case (*url == "") != (*code == ""):
		return usagef("--url and --code go together")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := class.LoadOptions{URL: *url, Code: *code, Learners: *learners, Every: *every, For: *dur, Spans: *spans}
	if o.URL == "" {
		server, err := startClassServer(ctx, env)
		if err != nil {
			return err
		}
		defer server.stop()
		o.URL, o.Code, o.ServerPID = server.url, server.code, server.cmd.Process.Pid
		fmt.Fprintf(env.Stderr, "a class server (pid %d) listens on %s; %d learners for %s ...\n", o.ServerPID, o.URL, o.Learners, o.For)
	}
	rep, err := class.Load(ctx, o)
	if err != nil {
		return err
	}
	class.WriteLoad(env.Stdout, o, rep)
	return nil
}

// classServer is a `workshop class serve` child process of `class load`.
type classServer struct {
	cmd       *exec.Cmd
	url, code string
	dir       string
	exited    chan struct{}
}

func startClassServer(ctx context.Context, env *Env) (*classServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "workshop-class-load-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &classServer{url: "http://" + addr, code: "LOADTEST", dir: dir, exited: make(chan struct{})}
	s.cmd = exec.Command(exe, "class", "serve", "--addr", addr, "--data", dir, "--code", s.code, "--no-qr")
	out, _ := s.cmd.StdoutPipe()
	s.cmd.Stderr = env.Stderr
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(out))
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		select {
		case <-s.exited:
			os.RemoveAll(dir)
			return nil, errors.New("the class server exited at its start")
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("the class server did not answer within 15 s")
		}
	}
}

// stop interrupts the server, kills it if it lingers, and removes its folder.
func (s *classServer) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dir)
}
