package geoledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var fastRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}

// stub is a loopback HTTP server speaking the ingest wire format: scripted replies first, then
// every event accepted. It records the requests it got.
type stub struct {
	*httptest.Server
	mu       sync.Mutex
	script   []func(w http.ResponseWriter, body []byte)
	always   func(w http.ResponseWriter, body []byte)
	requests []recorded
}

type recorded struct {
	method, path  string
	body          []byte
	authorization string
}

func newStub(t *testing.T) *stub {
	s := &stub{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, recorded{r.Method, r.URL.EscapedPath(), body, r.Header.Get("Authorization")})
		reply := s.always
		if len(s.script) > 0 {
			reply, s.script = s.script[0], s.script[1:]
		}
		s.mu.Unlock()
		if reply == nil {
			reply = acceptAll
		}
		reply(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func status(code int, body string, headers ...string) func(http.ResponseWriter, []byte) {
	return func(w http.ResponseWriter, _ []byte) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func acceptAll(w http.ResponseWriter, body []byte) { answerAll(w, body, "accepted") }

func answerAll(w http.ResponseWriter, body []byte, statuses ...string) {
	var request struct {
		Events []map[string]any `json:"events"`
	}
	_ = json.Unmarshal(body, &request)
	results := []map[string]any{}
	for i, event := range request.Events {
		result := map[string]any{
			"index": i, "tenant_id": event["tenant_id"], "event_id": event["event_id"],
			"status": statuses[i%len(statuses)], "reason": nil, "detail": nil,
		}
		if result["status"] == StatusRejected { // as the server does, a rejection carries a reason
			result["reason"], result["detail"] = "signature.invalid", "signature does not verify"
		}
		results = append(results, result)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
}

func testEvents(t *testing.T, count, start int) []SignedEvent {
	t.Helper()
	key, _ := PrivateKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	signer := NewSigner(key, "acme")
	events := make([]SignedEvent, 0, count)
	for n := start; n < start+count; n++ {
		event, err := signer.Sign(fmt.Sprintf("evt-%d", n), "order.created", map[string]any{"n": n}, "2025-01-31T12:00:00Z")
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, event)
	}
	return events
}

func testClient(url string) *Client {
	client := NewClient(url)
	client.Retry = fastRetry
	client.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return client
}

func TestTwo503ThenSuccessResendsTheSameBatch(t *testing.T) {
	s := newStub(t)
	s.script = append(s.script, status(503, "{}"), status(503, "{}"))
	events := testEvents(t, 3, 0)
	result, err := testClient(s.URL).Send(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	if !result.AllOK() || len(result.Results) != 3 || result.Results[2].EventID != "evt-2" {
		t.Fatalf("unexpected results %+v", result.Results)
	}
	if len(s.requests) != 3 || !bytes.Equal(s.requests[0].body, s.requests[2].body) {
		t.Fatalf("expected 3 identical requests, got %d", len(s.requests))
	}
	first, _ := events[0].MarshalJSON()
	if !bytes.HasPrefix(s.requests[0].body, append([]byte(`{"events":[`), first...)) {
		t.Fatalf("body does not start with the canonical first event: %s", s.requests[0].body)
	}
}

func TestPersistent5xxExhaustsRetries(t *testing.T) {
	s := newStub(t)
	s.always = status(502, "bad gateway")
	_, err := testClient(s.URL).Send(context.Background(), testEvents(t, 1, 0))
	var exhausted *RetriesExhaustedError
	if !errors.As(err, &exhausted) || exhausted.Attempts != 4 || exhausted.LastStatus != 502 {
		t.Fatalf("expected RetriesExhaustedError after 4 attempts with 502, got %v", err)
	}
	if len(s.requests) != 4 {
		t.Fatalf("expected 4 requests, got %d", len(s.requests))
	}
}

func Test429WithRetryAfterIsRetried(t *testing.T) {
	s := newStub(t)
	s.script = append(s.script, status(429, "{}", "Retry-After", "0"))
	if _, err := testClient(s.URL).Send(context.Background(), testEvents(t, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if len(s.requests) != 2 {
		t.Fatalf("expected 2 requests, got %d", len(s.requests))
	}
}

func TestALongRetryAfterIsNotRetriedSooner(t *testing.T) {
	s := newStub(t)
	s.always = status(429, `{"error":{"code":"rate_limited","message":"slow down"}}`, "Retry-After", "30")
	_, err := testClient(s.URL).Send(context.Background(), testEvents(t, 1, 0))
	var exhausted *RetriesExhaustedError
	if !errors.As(err, &exhausted) || exhausted.Attempts != 1 || exhausted.LastStatus != 429 || exhausted.RetryAfter != 30*time.Second {
		t.Fatalf("expected RetriesExhaustedError after 1 attempt with RetryAfter 30s, got %#v", err)
	}
	if len(s.requests) != 1 {
		t.Fatalf("expected 1 request, got %d", len(s.requests))
	}
}

func TestBatchRejectionsAreNotRetried(t *testing.T) {
	for _, code := range []int{400, 413, 422} {
		s := newStub(t)
		s.script = append(s.script, status(code, `{"error":{"code":"batch.too_large","message":"expected <= 1000 events"}}`))
		_, err := testClient(s.URL).Send(context.Background(), testEvents(t, 1, 0))
		var rejected *BatchRejectedError
		if !errors.As(err, &rejected) || rejected.Status != code || rejected.Code != "batch.too_large" {
			t.Fatalf("HTTP %d: expected BatchRejectedError, got %v", code, err)
		}
		if len(s.requests) != 1 {
			t.Fatalf("HTTP %d: expected 1 request, got %d", code, len(s.requests))
		}
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	s := newStub(t)
	hold := make(chan struct{})
	defer close(hold)
	// The first answer never comes in time; generous margins keep this stable on a loaded machine.
	s.script = append(s.script, func(w http.ResponseWriter, body []byte) { <-hold })
	client := testClient(s.URL)
	client.HTTPClient.Timeout = 250 * time.Millisecond
	if _, err := client.Send(context.Background(), testEvents(t, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if len(s.requests) != 2 {
		t.Fatalf("expected 2 requests, got %d", len(s.requests))
	}
}

func TestConnectionRefusedExhaustsRetries(t *testing.T) {
	listener, _ := net.Listen("tcp", "127.0.0.1:0")
	address := listener.Addr().String()
	listener.Close()
	_, err := testClient("http://"+address).Send(context.Background(), testEvents(t, 1, 0))
	var exhausted *RetriesExhaustedError
	if !errors.As(err, &exhausted) || exhausted.LastStatus != 0 || exhausted.Err == nil {
		t.Fatalf("expected RetriesExhaustedError from transport errors, got %v", err)
	}
}

func TestCancelledContextStopsRetrying(t *testing.T) {
	s := newStub(t)
	s.always = status(503, "{}")
	client := testClient(s.URL)
	client.Retry = RetryPolicy{MaxAttempts: 10, BaseDelay: time.Second, MaxDelay: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := client.Send(ctx, testEvents(t, 1, 0))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expected the context's error, got %v", err)
	}
}

func TestLargeSendsAreBatchedAndRenumbered(t *testing.T) {
	s := newStub(t)
	result, err := testClient(s.URL).Send(context.Background(), testEvents(t, 2500, 0))
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, r := range s.requests {
		var body struct{ Events []json.RawMessage }
		_ = json.Unmarshal(r.body, &body)
		sizes = append(sizes, len(body.Events))
	}
	if fmt.Sprint(sizes) != "[1000 1000 500]" {
		t.Fatalf("batch sizes %v", sizes)
	}
	for i, r := range result.Results {
		if r.Index != i || r.EventID != fmt.Sprintf("evt-%d", i) {
			t.Fatalf("result %d is %+v", i, r)
		}
	}
}

func TestBatchesRespectTheByteLimit(t *testing.T) {
	key, _ := PrivateKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	signer := NewSigner(key, "acme")
	var events []SignedEvent
	for n := 0; n < 20; n++ {
		event, err := signer.Sign(fmt.Sprintf("evt-%d", n), "blob", map[string]any{"b": strings.Repeat("x", 250000)}, "2025-01-31T12:00:00Z")
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, event)
	}
	batches, err := planBatches(events)
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 2 || len(batches[0].events) != 16 || batches[1].offset != 16 {
		t.Fatalf("unexpected batches: %d", len(batches))
	}
	for _, b := range batches {
		if len(b.body) > MaxBatchBytes || !json.Valid(b.body) {
			t.Fatalf("batch body of %d bytes (valid JSON: %v)", len(b.body), json.Valid(b.body))
		}
	}
}

func TestErrorInALaterBatchKeepsCompletedResults(t *testing.T) {
	s := newStub(t)
	s.script = append(s.script, acceptAll, status(422, `{"error":{"code":"schema","message":"bad"}}`))
	result, err := testClient(s.URL).Send(context.Background(), testEvents(t, 1500, 0))
	var rejected *BatchRejectedError
	if !errors.As(err, &rejected) || len(result.Results) != 1000 {
		t.Fatalf("expected a rejection after 1000 results, got %v with %d", err, len(result.Results))
	}
}

func TestPerEventStatusesAndMismatchedAnswers(t *testing.T) {
	s := newStub(t)
	s.script = append(s.script,
		func(w http.ResponseWriter, body []byte) { answerAll(w, body, "duplicate", "rejected") },
		status(200, `{"results":[]}`))
	client := testClient(s.URL)
	result, err := client.Send(context.Background(), testEvents(t, 2, 0))
	if err != nil || result.AllOK() || !result.Results[0].OK() || result.Results[1].Status != StatusRejected {
		t.Fatalf("unexpected %+v, %v", result, err)
	}
	if reason := result.Results[1].Reason; reason == nil || *reason != ReasonSignatureInvalid {
		t.Fatalf("expected reason %q, got %v", ReasonSignatureInvalid, reason)
	}
	_, err = client.Send(context.Background(), testEvents(t, 1, 0))
	var unexpected *UnexpectedResponseError
	if !errors.As(err, &unexpected) {
		t.Fatalf("expected UnexpectedResponseError, got %v", err)
	}
}

func TestDeprecationHeadersAreExposedAndLoggedOnce(t *testing.T) {
	s := newStub(t)
	s.always = func(w http.ResponseWriter, body []byte) {
		w.Header().Set("Deprecation", "@1735689600")
		w.Header().Set("Sunset", "Wed, 31 Dec 2025 23:59:59 GMT")
		acceptAll(w, body)
	}
	var logged bytes.Buffer
	client := testClient(s.URL)
	client.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	result, err := client.Send(context.Background(), testEvents(t, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Send(context.Background(), testEvents(t, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if result.Deprecation == nil || result.Deprecation.Deprecation != "@1735689600" || client.Deprecation() == nil {
		t.Fatalf("deprecation notice not exposed: %+v", result.Deprecation)
	}
	if n := strings.Count(logged.String(), "deprecation notice"); n != 1 {
		t.Fatalf("expected one warning, got %d: %s", n, logged.String())
	}
}

func TestGetEvent(t *testing.T) {
	s := newStub(t)
	s.script = append(s.script, status(503, ""), status(200, `{"tenant_id":"acme","payload":{"n":9007199254740991}}`), status(404, "{}"))
	client := testClient(s.URL)
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	client.Signer = NewSigner(key, "acme")
	document, err := client.GetEvent(context.Background(), "acme", "evt-1")
	if err != nil || document["payload"].(map[string]any)["n"] != json.Number("9007199254740991") {
		t.Fatalf("unexpected %v, %v", document, err)
	}
	_, err = client.GetEvent(context.Background(), "acme", "evt/unknown")
	var notFound *EventNotFoundError
	if !errors.As(err, &notFound) {
		t.Fatalf("expected EventNotFoundError, got %v", err)
	}
	if s.requests[1].path != "/v1/events/acme/evt-1" || s.requests[2].path != "/v1/events/acme/evt%2Funknown" {
		t.Fatalf("unexpected paths %q %q", s.requests[1].path, s.requests[2].path)
	}
	assertSignedRead(t, s.requests[2].authorization, s.requests[2].path, client.Signer)
}

// assertSignedRead checks that authorization is signer's signature of a GET of path, now.
func assertSignedRead(t *testing.T, authorization, path string, signer *Signer) {
	t.Helper()
	params, ok := strings.CutPrefix(authorization, AuthScheme+" ")
	fields := map[string]string{}
	for _, part := range strings.Split(params, ", ") {
		name, value, _ := strings.Cut(part, "=")
		fields[name] = value
	}
	ts, err := strconv.ParseInt(fields["ts"], 10, 64)
	if !ok || err != nil || fields["key_id"] != signer.KeyID || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Fatalf("unexpected Authorization %q", authorization)
	}
	message, err := ReadSigningString("GET", path, nil, ts, signer.KeyID)
	signature, decodeErr := b64url.DecodeString(fields["sig"])
	if err != nil || decodeErr != nil || !ed25519.Verify(signer.Key.Public().(ed25519.PublicKey), message, signature) {
		t.Fatalf("the read signature does not verify: %q", authorization)
	}
}
