package sink_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/dataverse/sink/sinktest"
	"github.com/dvsync/dvsync/migrations"
)

const token = "sink-test-token"

// The reference server's built-in user (refserver metadata: the caller of
// WhoAmI).
const refUserEmail = "admin@dvsync.invalid"

// refServer starts a reference Dataverse, optionally behind fault
// injection, and returns a client of it. wrap, when set, sits between the
// client and the server.
func refServer(t *testing.T, faults string, wrap func(http.Handler) http.Handler) *dataverse.Client {
	t.Helper()
	f, err := refserver.ParseFaults(faults)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := refserver.New(refserver.Options{Token: token, Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(token), &dataverse.ClientOptions{
		Limiter:      dataverse.NewLimiter(dataverse.LimiterOptions{}),
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func refEnv(t *testing.T, c *dataverse.Client) *sinktest.Env {
	t.Helper()
	uid, _, err := c.WhoAmI(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &sinktest.Env{Target: sink.New(c, nil), UserEmail: refUserEmail, UserID: uid}
}

// TestConformanceReferenceServer runs the target conformance suite against
// the sink on the reference Dataverse.
func TestConformanceReferenceServer(t *testing.T) {
	sinktest.Run(t, sinktest.Options{New: func(t *testing.T, faults bool) *sinktest.Env {
		profile := "off"
		if faults {
			profile = "seed=3,503=0.03,500=0.02,reset=0.03"
		}
		return refEnv(t, refServer(t, profile, nil))
	}})
}

// TestConformanceRealEnvironment runs the suite against a real Dataverse
// environment:
//
//	DVSYNC_TEST_ENV=https://<org>.crm.dynamics.com \
//	AZURE_TENANT_ID=… AZURE_CLIENT_ID=… AZURE_CLIENT_SECRET=… \
//	go test ./dataverse/sink -run RealEnvironment
//
// It writes accounts, cases and a team whose keys start with
// "dvsync-sinktest-<time>-" and leaves them for inspection.
func TestConformanceRealEnvironment(t *testing.T) {
	envURL := os.Getenv("DVSYNC_TEST_ENV")
	if envURL == "" {
		t.Skip("DVSYNC_TEST_ENV is not set; set it to https://<org>.crm.dynamics.com, with Azure credentials in AZURE_* (or an Azure CLI login), to run the target conformance suite against a real environment")
	}
	cred, err := dataverse.NewCredential(dataverse.CredentialOptions{Kind: dataverse.CredentialDefault, TenantID: os.Getenv("AZURE_TENANT_ID")})
	if err != nil {
		t.Skipf("no Azure credentials for %s: %v", envURL, err)
	}
	prefix := "dvsync-sinktest-" + time.Now().UTC().Format("20060102T150405") + "-"
	sinktest.Run(t, sinktest.Options{Records: 50, New: func(t *testing.T, faults bool) *sinktest.Env {
		if faults {
			return nil
		}
		c, err := dataverse.NewClient(envURL, cred, nil)
		if err != nil {
			t.Fatal(err)
		}
		uid, _, err := c.WhoAmI(t.Context())
		if err != nil {
			t.Skipf("cannot reach %s with the available credentials: %v", envURL, err)
		}
		u, err := c.Get(t.Context(), "systemuser", dataverse.ByID(uuid.MustParse(uid)), "internalemailaddress")
		if err != nil {
			t.Fatal(err)
		}
		return &sinktest.Env{Target: sink.New(c, nil), Prefix: prefix, UserEmail: u.String("internalemailaddress"), UserID: uid}
	}})
}

// loseCloseIncident applies every CloseIncident and then drops the
// connection instead of answering, the first time for each case, as a
// network failure after the service committed does. The sink sends a
// batch's CloseIncident actions side by side.
func loseCloseIncident(lost *atomic.Int32) func(http.Handler) http.Handler {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if closeCalls(r, body) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			key := string(body) // a re-send carries the same body
			mu.Lock()
			again := seen[key]
			seen[key] = true
			mu.Unlock()
			if again {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(httptest.NewRecorder(), r)
			lost.Add(1)
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		})
	}
}

// closeCalls is the number of CloseIncident calls r carries: one for the
// action's own request, each of its calls for a $batch.
func closeCalls(r *http.Request, body []byte) int {
	if strings.HasSuffix(r.URL.Path, "/CloseIncident") {
		return 1
	}
	if strings.HasSuffix(r.URL.Path, "/$batch") {
		return bytes.Count(body, []byte("/CloseIncident HTTP/1.1"))
	}
	return 0
}

func cases(n int, acc migrations.TargetRecord) []migrations.TargetRecord {
	out := []migrations.TargetRecord{acc}
	for i := range n {
		st := &migrations.State{Code: 1, Reason: 5, Close: &migrations.Resolution{Subject: "Fixed"}}
		if i%3 == 0 {
			st = &migrations.State{Code: 2, Reason: 6}
		}
		out = append(out, migrations.TargetRecord{Table: "incident",
			Key:    migrations.Key{ID: migrations.DeterministicID("sink", "incident", string(rune('a'+i)))},
			Fields: map[string]any{"title": "case", "customerid_account@odata.bind": "/accounts(" + acc.Key.ID + ")"},
			State:  st})
	}
	return out
}

// A CloseIncident whose response was lost is retried by the client; the
// retry meets a case already resolved, which is no reject.
func TestLostCloseIncidentResponseIsNoReject(t *testing.T) {
	var lost atomic.Int32
	c := refServer(t, "off", loseCloseIncident(&lost))
	s := sink.New(c, nil)
	acc := migrations.TargetRecord{Table: "account", Key: migrations.Key{ID: migrations.DeterministicID("sink", "account", "1")}, Fields: map[string]any{"name": "Lost responses"}}
	batch := cases(9, acc)
	res, err := s.Write(t.Context(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Outcome == migrations.Rejected {
			t.Errorf("%s rejected: %v", batch[i].Key, r.Err)
		}
	}
	if lost.Load() == 0 {
		t.Fatal("no CloseIncident response was lost; the test proves nothing")
	}
	for _, r := range batch[1:] {
		rows, err := s.Lookup(t.Context(), "incident", r.Key)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: %d rows, %v", r.Key, len(rows), err)
		}
		if d := s.Compare(t.Context(), r, rows[0]); len(d) > 0 {
			t.Errorf("%s: %+v", r.Key, d)
		}
	}
}

// `migrate odoo --restart` over a finished migration, in small: every case
// is already in its state; re-writing moves none and rejects none, and
// CloseIncident is not called again.
func TestRewriteOfClosedCasesIsUnchanged(t *testing.T) {
	var closes atomic.Int32
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			closes.Add(int32(closeCalls(r, body)))
			next.ServeHTTP(w, r)
		})
	}
	c := refServer(t, "off", count)
	s := sink.New(c, nil)
	acc := migrations.TargetRecord{Table: "account", Key: migrations.Key{ID: migrations.DeterministicID("sink", "account", "2")}, Fields: map[string]any{"name": "Restart"}}
	batch := cases(12, acc)
	if _, err := s.Write(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	first := closes.Load()
	if first == 0 {
		t.Fatal("the first write called CloseIncident nowhere the test sees")
	}
	res, err := s.Write(t.Context(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Outcome != migrations.Unchanged {
			t.Errorf("%s %s: %s %v, want unchanged", batch[i].Table, batch[i].Key, r.Outcome, r.Err)
		}
	}
	if closes.Load() != first {
		t.Errorf("re-writing resolved cases called CloseIncident %d more times", closes.Load()-first)
	}
}

// A failure of the service that outlasts the client's retries stops the
// run (Write returns an error); it never rejects the record.
func TestServiceFailureStopsTheRunNotTheRecord(t *testing.T) {
	failing := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	c := refServer(t, "off", failing)
	s := sink.New(c, nil)
	_, err := s.Write(context.Background(), []migrations.TargetRecord{{Table: "account",
		Key: migrations.Key{ID: migrations.DeterministicID("sink", "account", "3")}, Fields: map[string]any{"name": "x"}}})
	if err == nil || dataverse.Classify(err) != dataverse.ClassRetry {
		t.Fatalf("err = %v (%v), want the 503 as an error that stops the run", err, dataverse.Classify(err))
	}
}

// loseStateChange applies every request that sets a statecode (a PATCH,
// or a $batch of them) and drops the connection instead of answering, the
// first time for each record or batch.
func loseStateChange(lost *atomic.Int32) func(http.Handler) http.Handler {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			batch := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/$batch")
			if r.Method != http.MethodPatch && !batch {
				next.ServeHTTP(w, r)
				return
			}
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			key := r.URL.Path
			if batch {
				key = string(body) // a re-send carries the same body
			}
			mu.Lock()
			again := seen[key]
			if bytes.Contains(body, []byte(`"statecode"`)) {
				seen[key] = true
			}
			mu.Unlock()
			if !bytes.Contains(body, []byte(`"statecode"`)) || again {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(httptest.NewRecorder(), r)
			lost.Add(1)
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		})
	}
}

// A cancellation whose answer was lost is re-sent by the client and meets
// "already resolved or cancelled"; the case is in the state asked for, so
// it is no reject (issue 10, the connection-reset half).
func TestLostStateChangeResponseIsNoReject(t *testing.T) {
	var lost atomic.Int32
	c := refServer(t, "off", loseStateChange(&lost))
	s := sink.New(c, nil)
	acc := migrations.TargetRecord{Table: "account", Key: migrations.Key{ID: migrations.DeterministicID("sink", "account", "4")}, Fields: map[string]any{"name": "Lost cancellations"}}
	batch := cases(9, acc)
	res, err := s.Write(t.Context(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Outcome == migrations.Rejected {
			t.Errorf("%s rejected: %v", batch[i].Key, r.Err)
		}
	}
	if lost.Load() == 0 {
		t.Fatal("no state change answer was lost; the test proves nothing")
	}
}
