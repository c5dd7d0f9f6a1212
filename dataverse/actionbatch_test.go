package dataverse_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/batchwire"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

// batchLog keeps the calls of every $batch a client sends, and lets a test
// answer one $batch itself.
type batchLog struct {
	mu      sync.Mutex
	batches [][]batchwire.Request
	others  int
	// answer, when set, answers the n-th $batch (from 1) instead of the
	// server when it returns true.
	answer func(n int, w http.ResponseWriter, calls []batchwire.Request) bool
}

func (l *batchLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/$batch") {
			l.mu.Lock()
			l.others++
			l.mu.Unlock()
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		parts, err := batchwire.ReadRequest(bytes.NewReader(body), r.Header.Get("Content-Type"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var calls []batchwire.Request
		for _, p := range parts {
			if p.Request == nil {
				calls = append(calls, p.ChangeSet...)
				continue
			}
			calls = append(calls, *p.Request)
		}
		l.mu.Lock()
		l.batches = append(l.batches, calls)
		n := len(l.batches)
		l.mu.Unlock()
		if l.answer != nil && l.answer(n, w, calls) {
			return
		}
		next.ServeHTTP(w, r)
	})
}

func actionEnv(t *testing.T, log *batchLog) (*dataverse.Client, []string) {
	t.Helper()
	srv, err := refserver.New(refserver.Options{Token: "actions-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(log.wrap(srv))
	t.Cleanup(hs.Close)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("actions-test"), &dataverse.ClientOptions{MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acc, err := c.Create(ctx, "account", dataverse.Record{"name": "Actions"})
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for i := range 5 {
		id, err := c.Create(ctx, "incident", dataverse.Record{"title": fmt.Sprint("case ", i), "customerid_account@odata.bind": "/accounts(" + acc.String() + ")"})
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, id.String())
	}
	return c, cases
}

func closeCall(id, subject string) map[string]any {
	return map[string]any{"IncidentResolution": map[string]any{"subject": subject, "incidentid@odata.bind": "/incidents(" + id + ")"}, "Status": 5}
}

func caseState(t *testing.T, c *dataverse.Client, id string) int {
	t.Helper()
	rec, err := c.Get(context.Background(), "incident", dataverse.ByID(uuid.MustParse(id)), "statecode")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := rec["statecode"].(interface{ Int64() (int64, error) }).Int64()
	return int(n)
}

// The calls go out as independent requests of one $batch per BatchSize,
// and a refused call is refused alone: its error is Dataverse's, as the
// batch answered it, and the calls around it ran.
func TestInvokeActionsInBatchRefusesOneCallAlone(t *testing.T) {
	var log batchLog
	c, cases := actionEnv(t, &log)
	log.mu.Lock()
	log.others = 0
	log.mu.Unlock()
	params := make([]any, len(cases))
	for i, id := range cases {
		params[i] = closeCall(id, "Fixed")
	}
	params[2] = closeCall(cases[2], strings.Repeat("x", 201))
	errs, err := c.InvokeActions(context.Background(), "CloseIncident", params, &dataverse.ActionBatchOptions{Idempotent: true, BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if i == 2 {
			var re *dataverse.ResponseError
			if !dataverse.IsBadRequest(e) || !asResponse(e, &re) || re.Code != dataverse.CodeValidation ||
				!strings.Contains(re.Message, "maximum allowed length") || re.Path != "/api/data/v9.2/CloseIncident" {
				t.Errorf("refused call: %v, want the 400 validation error of POST /api/data/v9.2/CloseIncident", e)
			}
			if got := caseState(t, c, cases[i]); got != 0 {
				t.Errorf("refused case in state %d, want active", got)
			}
			continue
		}
		if e != nil {
			t.Errorf("call %d: %v", i, e)
		}
		if got := caseState(t, c, cases[i]); got != 1 {
			t.Errorf("case %d in state %d, want resolved", i, got)
		}
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.batches) != 2 || len(log.batches[0]) != 3 || len(log.batches[1]) != 2 {
		t.Fatalf("%d batches, want 2 of 3 and 2 calls", len(log.batches))
	}
	if log.others != 5 { // the reads of caseState only
		t.Errorf("%d requests outside $batch, want the 5 reads", log.others)
	}
	for _, call := range log.batches[0] {
		if call.Method != http.MethodPost || call.URL != "/api/data/v9.2/CloseIncident" || call.ContentID != "" {
			t.Errorf("call %s %s (Content-ID %q), want an independent POST /api/data/v9.2/CloseIncident", call.Method, call.URL, call.ContentID)
		}
	}
}

func asResponse(err error, re **dataverse.ResponseError) bool {
	r, ok := err.(*dataverse.ResponseError)
	*re = r
	return ok
}

// answerWith writes a $batch response of the given statuses, one per call.
func answerWith(w http.ResponseWriter, statuses ...int) {
	var parts []batchwire.ResponsePart
	for _, st := range statuses {
		r := batchwire.Response{StatusCode: st, Header: batchwire.Header{{Name: "OData-Version", Value: "4.0"}}}
		if st == http.StatusTooManyRequests {
			r.Header = append(r.Header, batchwire.Field{Name: "Retry-After", Value: "0"}, batchwire.Field{Name: "Content-Type", Value: "application/json"})
			r.Body = []byte(`{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}`)
		}
		if st == http.StatusServiceUnavailable {
			r.Body = []byte(`{"error":{"code":"0x80040216","message":"Service unavailable."}}`)
		}
		parts = append(parts, batchwire.ResponsePart{Response: &r})
	}
	b := batchwire.NewBoundary("batchresponse")
	w.Header().Set("Content-Type", batchwire.ResponseContentType(b))
	w.WriteHeader(http.StatusOK)
	_ = batchwire.WriteResponse(w, b, parts)
}

// A call throttled inside a batch never ran: it alone is sent again, in a
// further $batch, and succeeds there. A 503 inside a batch is sent again
// only for an idempotent action.
func TestInvokeActionsRetriesThrottledCallsOnly(t *testing.T) {
	for _, idempotent := range []bool{true, false} {
		t.Run(fmt.Sprint("idempotent=", idempotent), func(t *testing.T) {
			var log batchLog
			log.answer = func(n int, w http.ResponseWriter, calls []batchwire.Request) bool {
				if n != 1 {
					return false
				}
				// Nothing of this batch ran: the first call throttled, the
				// second unavailable, the third claimed done.
				answerWith(w, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusNoContent)
				return true
			}
			c, cases := actionEnv(t, &log)
			params := []any{closeCall(cases[0], "a"), closeCall(cases[1], "b"), closeCall(cases[2], "c")}
			errs, err := c.InvokeActions(context.Background(), "CloseIncident", params, &dataverse.ActionBatchOptions{Idempotent: idempotent})
			if err != nil {
				t.Fatal(err)
			}
			log.mu.Lock()
			batches := log.batches
			log.mu.Unlock()
			want := 1 // the throttled call
			if idempotent {
				want = 2 // and the unavailable one
			}
			if len(batches) != 2 || len(batches[1]) != want {
				t.Fatalf("%d batches (%v), want a second one with %d calls", len(batches), batches, want)
			}
			if !bytes.Contains(batches[1][0].Body, []byte(cases[0])) {
				t.Errorf("re-sent %s, want the throttled call", batches[1][0].Body)
			}
			if errs[0] != nil || errs[2] != nil {
				t.Errorf("errors %v", errs)
			}
			if idempotent && errs[1] != nil {
				t.Errorf("idempotent 503 call: %v, want sent again and done", errs[1])
			}
			if !idempotent && dataverse.StatusCode(errs[1]) != http.StatusServiceUnavailable {
				t.Errorf("non-idempotent 503 call: %v, want its 503", errs[1])
			}
			if got := caseState(t, c, cases[0]); got != 1 {
				t.Errorf("throttled case in state %d, want resolved by the second batch", got)
			}
		})
	}
}

// A $batch refused as a whole with a failure that stops a run (the
// credential refused) stops InvokeActions: every call carries the failure
// and it is returned.
func TestInvokeActionsStopsOnAFailureOfTheWholeBatch(t *testing.T) {
	var log batchLog
	log.answer = func(n int, w http.ResponseWriter, _ []batchwire.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"0x80048306","message":"The user is not authenticated."}}`))
		return true
	}
	c, cases := actionEnv(t, &log)
	params := make([]any, len(cases))
	for i, id := range cases {
		params[i] = closeCall(id, "Fixed")
	}
	errs, err := c.InvokeActions(context.Background(), "CloseIncident", params, &dataverse.ActionBatchOptions{Idempotent: true, BatchSize: 2})
	if err == nil || dataverse.Classify(err) != dataverse.ClassStop {
		t.Fatalf("err = %v, want the 401 that stops a run", err)
	}
	for i, e := range errs {
		if e == nil {
			t.Errorf("call %d has no error", i)
		}
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.batches) != 1 {
		t.Errorf("%d batches sent, want the first only", len(log.batches))
	}
}
