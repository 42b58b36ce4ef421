package otlp

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The OTLP/HTTP paths, relative to OTEL_EXPORTER_OTLP_ENDPOINT.
const (
	TracesPath = "/v1/traces"
	LogsPath   = "/v1/logs"
)

// DefaultMaxBodyBytes bounds a request body: generous for an SDK batch
// (512 spans by default), small enough that a bad client cannot exhaust
// memory.
const DefaultMaxBodyBytes = 16 << 20

// Receiver is an http.Handler that serves OTLP/HTTP: POST /v1/traces and
// POST /v1/logs, in protobuf or JSON, optionally gzipped. What it receives
// goes into its Store.
type Receiver struct {
	store *Store
	// MaxBodyBytes bounds a body both as sent and once decompressed, so a
	// small gzip bomb is refused too. Set it before serving.
	MaxBodyBytes int64
	// OnExport, when set, sees every decoded export request (a
	// *coltracepb.ExportTraceServiceRequest or *collogspb.ExportLogsServiceRequest)
	// before it is stored. It may change it, e.g. add a resource attribute,
	// and must not keep it after returning. Set it before serving.
	OnExport func(req proto.Message)
}

// NewReceiver returns a receiver that fills store.
func NewReceiver(store *Store) *Receiver {
	return &Receiver{store: store, MaxBodyBytes: DefaultMaxBodyBytes}
}

// encoding is a body's wire format.
type encoding int

const (
	encProtobuf encoding = iota
	encJSON
)

func (e encoding) contentType() string {
	if e == encJSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// httpError is a failed request: its status and what to tell the sender.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// ServeHTTP answers one export request, in the encoding it came in.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != TracesPath && r.URL.Path != LogsPath {
		http.Error(w, "not an OTLP path: use POST "+TracesPath+" or "+LogsPath, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "OTLP/HTTP takes POST", http.StatusMethodNotAllowed)
		return
	}
	enc, err := requestEncoding(r)
	if err != nil {
		http.Error(w, err.Error(), err.status)
		return
	}
	body, err := rc.readBody(w, r)
	if err != nil {
		writeStatus(w, enc, err)
		return
	}

	var resp proto.Message
	if r.URL.Path == TracesPath {
		resp, err = rc.exportTraces(enc, body)
	} else {
		resp, err = rc.exportLogs(enc, body)
	}
	if err != nil {
		writeStatus(w, enc, err)
		return
	}
	writeMessage(w, enc, http.StatusOK, resp)
}

func (rc *Receiver) exportTraces(enc encoding, body []byte) (proto.Message, *httpError) {
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := unmarshal(enc, body, req); err != nil {
		return nil, err
	}
	if rc.OnExport != nil {
		rc.OnExport(req)
	}
	spans := spansFromProto(req)
	resp := &coltracepb.ExportTraceServiceResponse{}
	if rejected := rc.store.AddSpans(spans...); rejected > 0 {
		l := rc.store.Limits()
		// Partial success tells the SDK not to retry the refused spans.
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{
			RejectedSpans: int64(rejected),
			ErrorMessage: fmt.Sprintf("%d of %d spans refused: missing ids, more than %d spans in one trace, "+
				"or more than %d spans or %d new traces in one request",
				rejected, len(spans), l.MaxSpansPerTrace, l.MaxSpansPerRequest, l.MaxNewTracesPerRequest),
		}
	}
	return resp, nil
}

func (rc *Receiver) exportLogs(enc encoding, body []byte) (proto.Message, *httpError) {
	req := &collogspb.ExportLogsServiceRequest{}
	if err := unmarshal(enc, body, req); err != nil {
		return nil, err
	}
	if rc.OnExport != nil {
		rc.OnExport(req)
	}
	rc.store.AddLogs(logsFromProto(req)...)
	return &collogspb.ExportLogsServiceResponse{}, nil
}

// requestEncoding reads Content-Type and checks Content-Encoding.
func requestEncoding(r *http.Request) (encoding, *httpError) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var enc encoding
	switch mediaType {
	case "application/x-protobuf":
		enc = encProtobuf
	case "application/json":
		enc = encJSON
	default:
		return 0, &httpError{http.StatusUnsupportedMediaType,
			fmt.Sprintf("unsupported Content-Type %q: use application/x-protobuf or application/json", r.Header.Get("Content-Type"))}
	}
	switch ce := strings.ToLower(r.Header.Get("Content-Encoding")); ce {
	case "", "identity", "gzip":
	default:
		return 0, &httpError{http.StatusUnsupportedMediaType,
			fmt.Sprintf("unsupported Content-Encoding %q: use gzip or none", ce)}
	}
	return enc, nil
}

// readBody reads the whole body, gunzipping it if needed, within MaxBodyBytes.
func (rc *Receiver) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *httpError) {
	tooLarge := &httpError{http.StatusRequestEntityTooLarge,
		fmt.Sprintf("body larger than %d bytes: send smaller batches", rc.MaxBodyBytes)}
	var in io.Reader = http.MaxBytesReader(w, r.Body, rc.MaxBodyBytes)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		gz, err := gzip.NewReader(in)
		if err != nil {
			return nil, readError(err, tooLarge)
		}
		defer gz.Close()
		in = io.LimitReader(gz, rc.MaxBodyBytes+1)
	}
	body, err := io.ReadAll(in)
	if err != nil {
		return nil, readError(err, tooLarge)
	}
	if int64(len(body)) > rc.MaxBodyBytes {
		return nil, tooLarge
	}
	return body, nil
}

func readError(err error, tooLarge *httpError) *httpError {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return tooLarge
	}
	return &httpError{http.StatusBadRequest, "reading the body: " + err.Error()}
}

func unmarshal(enc encoding, body []byte, m proto.Message) *httpError {
	var err error
	if enc == encJSON {
		if body, err = hexIDsToBase64(body); err == nil {
			// Unknown fields are ignored, as the OTLP spec asks of receivers,
			// so a newer SDK's additions do not break the workshop.
			err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, m)
		}
	} else {
		err = proto.Unmarshal(body, m)
	}
	if err != nil {
		return &httpError{http.StatusBadRequest, "undecodable OTLP " + enc.contentType() + " body: " + err.Error()}
	}
	return nil
}

// writeStatus answers an error the OTLP way: a google.rpc.Status in the
// request's encoding, which the SDK exporters include in their error.
func writeStatus(w http.ResponseWriter, enc encoding, e *httpError) {
	code := codes.InvalidArgument
	if e.status == http.StatusRequestEntityTooLarge {
		code = codes.ResourceExhausted
	}
	writeMessage(w, enc, e.status, &statuspb.Status{Code: int32(code), Message: e.msg})
}

func writeMessage(w http.ResponseWriter, enc encoding, status int, m proto.Message) {
	var body []byte
	var err error
	if enc == encJSON {
		body, err = protojson.Marshal(m)
	} else {
		body, err = proto.Marshal(m)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
