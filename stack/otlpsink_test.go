package stack

import (
	"io"
	"net"
	"net/http"
	"sync"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"
)

// receivedSpan is one span as the collector got it, with its resource.
type receivedSpan struct {
	traceID, spanID string
	name            string
	kind            string // SPAN_KIND_SERVER, ...
	resource        map[string]*commonpb.AnyValue
}

// otlpSink is an OTLP/HTTP trace receiver (protobuf, POST /v1/traces): what
// Alloy's receiver is to the services, for tests that look at the spans the
// real programs export.
type otlpSink struct {
	url string
	srv *http.Server

	mu    sync.Mutex
	spans []receivedSpan
}

// maxExport bounds one export request: the SDK's batches of 512 spans are far smaller.
const maxExport = 16 << 20

func newOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &otlpSink{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", s.export)
	s.srv = &http.Server{Handler: mux}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *otlpSink) close() { _ = s.srv.Close() }

func (s *otlpSink) export(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxExport))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var got []receivedSpan
	for _, rs := range req.GetResourceSpans() {
		res := map[string]*commonpb.AnyValue{}
		for _, kv := range rs.GetResource().GetAttributes() {
			res[kv.GetKey()] = kv.GetValue()
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				got = append(got, receivedSpan{
					traceID:  hexID(sp.GetTraceId()),
					spanID:   hexID(sp.GetSpanId()),
					name:     sp.GetName(),
					kind:     sp.GetKind().String(),
					resource: res,
				})
			}
		}
	}
	s.mu.Lock()
	s.spans = append(s.spans, got...)
	s.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// received returns a copy of the spans so far.
func (s *otlpSink) received() []receivedSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedSpan(nil), s.spans...)
}
