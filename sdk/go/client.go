package geoledger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Batch limits of POST /v1/events.
const (
	MaxBatchEvents = 1000
	MaxBatchBytes  = 4 << 20
)

const eventsPath = "/v1/events"

// RetryPolicy is exponential backoff with jitter for 429, 5xx, timeouts and connection errors.
// Retry n (1 for the second attempt) waits a uniformly random time in [d/2, d] with
// d = min(MaxDelay, BaseDelay * 2**(n-1)); a Retry-After header raises the wait. A Retry-After over
// MaxDelay ends the retries at once: RetriesExhaustedError.RetryAfter says how long the server asked.
type RetryPolicy struct {
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
}

// DefaultRetryPolicy is 5 attempts, 200 ms doubling up to 5 s.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second}

func (p RetryPolicy) delay(retry int, retryAfter time.Duration) time.Duration {
	ceiling := p.BaseDelay << (retry - 1)
	if ceiling > p.MaxDelay || ceiling <= 0 {
		ceiling = p.MaxDelay
	}
	wait := ceiling/2 + time.Duration(rand.Int64N(int64(ceiling/2)+1))
	if retryAfter > wait {
		wait = min(retryAfter, p.MaxDelay)
	}
	return wait
}

// Client sends signed events to a geoledger ingest node. It is safe for concurrent use.
type Client struct {
	BaseURL    string
	HTTPClient *http.Client
	Retry      RetryPolicy
	Logger     *slog.Logger
	UserAgent  string
	// Signer signs GetEvent's reads; its key must be registered for the tenant read.
	Signer *Signer

	mu          sync.Mutex
	warned      bool
	deprecation *DeprecationNotice
}

// NewClient returns a client for baseURL (e.g. "http://127.0.0.1:8080") with a 10 s request
// timeout, DefaultRetryPolicy and slog.Default() for the one-time deprecation warning.
func NewClient(baseURL string) *Client {
	return &Client{
		BaseURL:    strings.TrimRight(baseURL, "/"),
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		Retry:      DefaultRetryPolicy,
		Logger:     slog.Default(),
		UserAgent:  "geoledger-sdk-go/" + Version,
	}
}

// Deprecation returns the most recent Deprecation/Sunset notice the server sent, or nil.
func (c *Client) Deprecation() *DeprecationNotice {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deprecation
}

// Send sends events in batches of at most MaxBatchEvents events and MaxBatchBytes bytes, in
// order, and returns one EventResult per event. On error the returned SendResult (never nil)
// holds the results of the batches answered before it. Errors: *BatchRejectedError (400, 413,
// 422; not retried), *RetriesExhaustedError, *UnexpectedResponseError, or the context's error.
func (c *Client) Send(ctx context.Context, events []SignedEvent) (*SendResult, error) {
	result := &SendResult{Results: make([]EventResult, 0, len(events))}
	batches, err := planBatches(events)
	if err != nil {
		return result, err
	}
	for _, batch := range batches {
		response, err := c.do(ctx, http.MethodPost, eventsPath, batch.body, nil)
		if err != nil {
			return result, err
		}
		if response.status != http.StatusOK {
			return result, batchAnswerError(response)
		}
		results, err := parseResults(response.body, batch)
		if err != nil {
			return result, err
		}
		result.Results = append(result.Results, results...)
		if notice := deprecationFrom(response.header); notice != nil {
			result.Deprecation = notice
		}
	}
	return result, nil
}

// GetEvent returns the winning envelope stored for (tenantID, eventID) as decoded JSON (numbers
// as json.Number), the read signed with c.Signer (without one the server answers 401, an
// *UnexpectedResponseError). A 404 is an *EventNotFoundError: no such event, or c.Signer's key
// belongs to another tenant (the server answers both alike).
func (c *Client) GetEvent(ctx context.Context, tenantID, eventID string) (map[string]any, error) {
	path := eventsPath + "/" + url.PathEscape(tenantID) + "/" + url.PathEscape(eventID)
	header := http.Header{}
	if c.Signer != nil {
		authorization, err := c.Signer.AuthorizeRead(http.MethodGet, path, nil, 0)
		if err != nil {
			return nil, err
		}
		header.Set("Authorization", authorization)
	}
	response, err := c.do(ctx, http.MethodGet, path, nil, header)
	if err != nil {
		return nil, err
	}
	switch response.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, &EventNotFoundError{TenantID: tenantID, EventID: eventID}
	default:
		return nil, &UnexpectedResponseError{Status: response.status, Message: excerpt(response.body)}
	}
	decoder := json.NewDecoder(bytes.NewReader(response.body))
	decoder.UseNumber()
	var document map[string]any
	if err := decoder.Decode(&document); err != nil {
		return nil, &UnexpectedResponseError{Status: 200, Message: "expected a JSON object, got " + excerpt(response.body)}
	}
	return document, nil
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// do performs one logical request, retrying 429, 5xx and transport errors as the policy allows.
func (c *Client) do(ctx context.Context, method, path string, body []byte, header http.Header) (*answer, error) {
	attempts := max(c.Retry.MaxAttempts, 1)
	var failure string
	var lastStatus int
	var lastErr error
	var retryAfter time.Duration
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			timer := time.NewTimer(c.Retry.delay(attempt-1, retryAfter))
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil, ctx.Err()
			case <-timer.C:
			}
		}
		response, err := c.attempt(ctx, method, path, body, header)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			failure, lastStatus, lastErr, retryAfter = err.Error(), 0, err, 0
			continue
		}
		c.noteDeprecation(response.header)
		if response.status != http.StatusTooManyRequests && response.status < 500 {
			return response, nil
		}
		failure, lastStatus, lastErr = "HTTP "+strconv.Itoa(response.status), response.status, nil
		retryAfter = parseRetryAfter(response.header.Get("Retry-After"))
		if retryAfter > c.Retry.MaxDelay {
			// A retry sooner than the server asked would be refused again: hand the wait to the caller.
			return nil, &RetriesExhaustedError{Attempts: attempt, LastFailure: failure, LastStatus: lastStatus, RetryAfter: retryAfter}
		}
	}
	return nil, &RetriesExhaustedError{Attempts: attempts, LastFailure: failure, LastStatus: lastStatus, RetryAfter: retryAfter, Err: lastErr}
}

func (c *Client) attempt(ctx context.Context, method, path string, body []byte, header http.Header) (*answer, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	request, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, reader)
	if err != nil {
		return nil, err
	}
	for name, values := range header {
		request.Header[name] = values
	}
	if body != nil {
		request.Header.Set("Content-Type", "application/json")
	}
	request.Header.Set("User-Agent", c.UserAgent)
	httpClient := c.HTTPClient
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	response, err := httpClient.Do(request)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	data, err := io.ReadAll(response.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	return &answer{status: response.StatusCode, header: response.Header, body: data}, nil
}

func (c *Client) noteDeprecation(header http.Header) {
	notice := deprecationFrom(header)
	if notice == nil {
		return
	}
	c.mu.Lock()
	c.deprecation = notice
	first := !c.warned
	c.warned = true
	c.mu.Unlock()
	if first && c.Logger != nil {
		c.Logger.Warn("geoledger API answered with a deprecation notice",
			"deprecation", notice.Deprecation, "sunset", notice.Sunset, "link", notice.Link)
	}
}

func parseRetryAfter(value string) time.Duration {
	if value == "" {
		return 0
	}
	if seconds, err := strconv.Atoi(strings.TrimSpace(value)); err == nil && seconds >= 0 {
		return time.Duration(seconds) * time.Second
	}
	if when, err := http.ParseTime(value); err == nil {
		return max(time.Until(when), 0)
	}
	return 0
}

type batch struct {
	offset int
	events []SignedEvent
	body   []byte
}

// planBatches writes each event as its canonical JSON and groups them within the batch limits.
func planBatches(events []SignedEvent) ([]batch, error) {
	var batches []batch
	var current batch
	const frame = len(`{"events":[]}`)
	size := frame
	flush := func(next int) {
		current.body = append(current.body, ']', '}')
		batches = append(batches, current)
		current = batch{offset: next}
		size = frame
	}
	for i, event := range events {
		data, err := event.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("event %d (%s): %w", i, event.EventID, err)
		}
		if len(current.events) > 0 && (len(current.events) == MaxBatchEvents || size+1+len(data) > MaxBatchBytes) {
			flush(i)
		}
		if len(current.events) == 0 {
			current.body = append([]byte(nil), `{"events":[`...)
		} else {
			current.body = append(current.body, ',')
			size++
		}
		current.body = append(current.body, data...)
		current.events = append(current.events, event)
		size += len(data)
	}
	if len(current.events) > 0 {
		flush(len(events))
	}
	return batches, nil
}

func batchAnswerError(response *answer) error {
	switch response.status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		var document struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(response.body, &document) != nil || document.Error.Code == "" {
			return &BatchRejectedError{Status: response.status, Code: "unknown", Message: excerpt(response.body)}
		}
		return &BatchRejectedError{Status: response.status, Code: document.Error.Code, Message: document.Error.Message}
	}
	return &UnexpectedResponseError{Status: response.status, Message: excerpt(response.body)}
}

func parseResults(body []byte, b batch) ([]EventResult, error) {
	var document struct {
		Results []EventResult `json:"results"`
	}
	if err := json.Unmarshal(body, &document); err != nil {
		return nil, &UnexpectedResponseError{Status: 200, Message: "expected {\"results\": [...]}, got " + excerpt(body)}
	}
	if len(document.Results) != len(b.events) {
		return nil, &UnexpectedResponseError{Status: 200, Message: fmt.Sprintf(
			"expected %d results, one per event sent, got %d", len(b.events), len(document.Results))}
	}
	for i := range document.Results {
		result := &document.Results[i]
		event := b.events[i]
		if result.Index != i || result.EventID != event.EventID {
			return nil, &UnexpectedResponseError{Status: 200, Message: fmt.Sprintf(
				"result %d: expected index %d for event %q, got index %d for %q", i, i, event.EventID, result.Index, result.EventID)}
		}
		switch result.Status {
		case StatusAccepted, StatusDuplicate, StatusConflict, StatusRejected:
		default:
			return nil, &UnexpectedResponseError{Status: 200, Message: fmt.Sprintf("result %d: unknown status %q", i, result.Status)}
		}
		result.Index = b.offset + i
	}
	return document.Results, nil
}

func excerpt(body []byte) string {
	if len(body) > 300 {
		return string(body[:300]) + "..."
	}
	return string(body)
}
