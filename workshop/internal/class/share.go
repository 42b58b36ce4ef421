package class

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/go-o11y-workshop/kit/workshop/internal/otlp"
)

// LearnerAttribute is the resource attribute that says whose telemetry it
// is, on the class server and in a collector in front of Tempo alike.
const LearnerAttribute = "learner"

// SetLearner sets the learner resource attribute on every resource of an
// OTLP export request, replacing any value the sender gave.
func SetLearner(req proto.Message, name string) {
	var resources []**resourcepb.Resource
	switch r := req.(type) {
	case *coltracepb.ExportTraceServiceRequest:
		for _, rs := range r.ResourceSpans {
			resources = append(resources, &rs.Resource)
		}
	case *collogspb.ExportLogsServiceRequest:
		for _, rl := range r.ResourceLogs {
			resources = append(resources, &rl.Resource)
		}
	}
	value := &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: name}}
	for _, res := range resources {
		if *res == nil {
			*res = &resourcepb.Resource{}
		}
		attrs := (*res).Attributes[:0]
		for _, kv := range (*res).Attributes {
			if kv.GetKey() != LearnerAttribute {
				attrs = append(attrs, kv)
			}
		}
		(*res).Attributes = append(attrs, &commonpb.KeyValue{Key: LearnerAttribute, Value: value})
	}
}

// ShareOptions configure a Sharer.
type ShareOptions struct {
	// Endpoint is the OTLP/HTTP base URL: the class server, or a collector.
	Endpoint string
	// Token authenticates to the class server; "" for a collector (the
	// token is never sent anywhere but the class it came from).
	Token   string
	Learner string
	// Say prints one line for the learner (a failure, a recovery).
	Say func(format string, args ...any)
	// Client sends the batches; nil means one with a 5 s timeout.
	Client *http.Client
	// Queue bounds the batches waiting to be sent (default 64): beyond it
	// batches are dropped, never the local viewer's.
	Queue int
}

// Sharer copies what the local receiver of `workshop up` gets to the class:
// it is the receiver's OnExport. The copy is tagged with the learner,
// queued, and sent in the background, so a slow or absent class never
// slows the services or the local viewer.
type Sharer struct {
	o       ShareOptions
	queue   chan batch
	ctx     context.Context // ends when Close's ctx does: aborts a send in flight
	cancel  context.CancelFunc
	quit    chan struct{} // closed by Close
	wg      sync.WaitGroup
	closing atomic.Bool
	failing atomic.Bool
	sent    atomic.Int64
	dropped atomic.Int64
}

type batch struct {
	path string
	body []byte
}

// NewSharer starts a Sharer's sending goroutine; Close stops it.
func NewSharer(o ShareOptions) *Sharer {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.Say == nil {
		o.Say = func(string, ...any) {}
	}
	o.Endpoint = strings.TrimRight(o.Endpoint, "/")
	s := &Sharer{o: o, queue: make(chan batch, o.Queue), quit: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.run()
	return s
}

// Export tags an export request with the learner (in place: the local
// viewer shows the attribute too) and queues a copy for the class.
func (s *Sharer) Export(req proto.Message) {
	SetLearner(req, s.o.Learner)
	path := otlp.TracesPath
	if _, ok := req.(*collogspb.ExportLogsServiceRequest); ok {
		path = otlp.LogsPath
	}
	body, err := proto.Marshal(req)
	if err != nil || s.closing.Load() {
		return
	}
	select {
	case s.queue <- batch{path, body}:
	default:
		s.dropped.Add(1)
	}
}

func (s *Sharer) run() {
	defer s.wg.Done()
	for {
		select {
		case b := <-s.queue:
			s.send(s.ctx, b)
		case <-s.quit: // Close: what is queued goes, until Close's ctx ends
			for {
				select {
				case b := <-s.queue:
					s.send(s.ctx, b)
				default:
					return
				}
			}
		}
	}
}

func (s *Sharer) send(ctx context.Context, b batch) {
	err := s.post(ctx, b)
	if ctx.Err() != nil {
		s.dropped.Add(1)
		return
	}
	switch {
	case err != nil && !s.failing.Swap(true):
		s.o.Say("sharing with the class: %v; your own viewer has everything, and later batches are tried as they come", err)
	case err == nil && s.failing.Swap(false):
		s.o.Say("sharing with the class works again")
	}
	if err == nil {
		s.sent.Add(1)
	} else {
		s.dropped.Add(1)
	}
}

func (s *Sharer) post(ctx context.Context, b batch) error {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(b.body)
	_ = zw.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.Endpoint+b.path, &gz)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "gzip")
	if s.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.o.Token)
	}
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%s does not answer (%v)", s.o.Endpoint, unwrapURLError(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("the class takes only part of your telemetry (%s)", resp.Status)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("the class no longer knows this checkout (%s): join again", resp.Status)
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("%s answered %s: %s", s.o.Endpoint, resp.Status, clean(strings.TrimSpace(string(msg)), 200, false))
	}
	return nil
}

// Close sends what is queued until ctx ends, then stops (a send still in
// flight then is aborted). It returns how many batches were sent and
// dropped in all.
func (s *Sharer) Close(ctx context.Context) (sent, dropped int64) {
	s.closing.Store(true)
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	close(s.quit)
	s.wg.Wait()
	s.cancel()
	for range len(s.queue) {
		<-s.queue
		s.dropped.Add(1)
	}
	return s.sent.Load(), s.dropped.Load()
}
