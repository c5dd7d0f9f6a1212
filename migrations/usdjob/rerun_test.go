package usdjob_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/usdjob"
)

// requests records what a client sends: method, path and the $filter of
// each request.
type requests struct {
	mu  sync.Mutex
	on  bool
	log []sent
}

type sent struct{ method, path, query string }

func (l *requests) transport(base http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		q, _ := url.QueryUnescape(r.URL.RawQuery)
		l.mu.Lock()
		if l.on {
			l.log = append(l.log, sent{r.Method, strings.TrimPrefix(r.URL.Path, "/api/data/v9.2/"), q})
		}
		l.mu.Unlock()
		return base.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A re-run of an unchanged configuration reads each table three times and
// nothing else: once to find its records by unique name (the address
// book), once before writing (the sink's read, which also brings the
// states and links the moves and links start from), once to verify; plus
// the one WhoAmI that names the environment. The records the state says
// were written need no probe of their own: the address book found them.
func TestRerunReadsEachTableOncePerPhase(t *testing.T) {
	srv, err := refserver.New(refserver.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	var log requests
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(token), &dataverse.ClientOptions{MaxRetries: 1, Transport: log.transport(hs.Client().Transport)})
	if err != nil {
		t.Fatal(err)
	}
	res := translate(t, loadModel(t, "contoso.zip"))
	store := openStore(t)
	e := &env{c: c}
	checkRun(t, migrate(t, e, res, store, nil), len(res.Records), len(res.Associations))
	log.mu.Lock()
	log.on = true
	log.mu.Unlock()
	checkRun(t, migrate(t, e, res, store, nil), len(res.Records), len(res.Associations))

	tables := map[string]bool{}
	for _, r := range res.Records {
		tables[r.Table] = true
	}
	perSet := map[string]int{}
	whoami := 0
	for _, r := range log.log {
		switch {
		case r.method != http.MethodGet:
			t.Errorf("re-run sent %s %s", r.method, r.path)
		case r.path == "WhoAmI":
			whoami++
		default:
			perSet[r.path]++
		}
	}
	if whoami != 1 {
		t.Errorf("%d WhoAmI, want the one that names the environment", whoami)
	}
	if len(perSet) != len(tables) {
		t.Errorf("read %d entity sets, want the %d tables written: %v", len(perSet), len(tables), perSet)
	}
	for set, n := range perSet {
		if n != 3 {
			t.Errorf("%s read %d times, want 3 (address book, before writing, verify)", set, n)
		}
	}
	if t.Failed() {
		for _, r := range log.log {
			t.Logf("%s %s?%.160s", r.method, r.path, r.query)
		}
	}
}

// The address book answers the engine's check that the environment holds
// what the state says was written only for the records it found there: a
// run with that state against a reset environment (same organisation and
// URL, the records gone) reads them, finds none, and stops before
// writing; one against another organisation at that URL stops on its
// name.
func TestStateOfAnotherEnvironmentStopsBeforeWriting(t *testing.T) {
	res := translate(t, loadModel(t, "small.zip"))
	store := openStore(t)
	// One URL, the job's name, whatever environment answers there.
	var current atomic.Pointer[http.Handler]
	serve := func(h http.Handler) { current.Store(&h) }
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*current.Load()).ServeHTTP(w, r) })
	newServer := func() *refserver.Server {
		srv, err := refserver.New(refserver.Options{Token: token})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		return srv
	}
	serve(newServer())
	e := envFor(t, front, nil)
	checkRun(t, migrate(t, e, res, store, nil), len(res.Records), len(res.Associations))

	var log requests
	log.on = true
	for _, tc := range []struct {
		name    string
		handler func(http.Handler) http.Handler
		probed  bool
	}{
		{"reset", func(h http.Handler) http.Handler { return h }, true},
		{"another organisation", func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/WhoAmI") {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`{"BusinessUnitId":"6f1c2a3b-0000-4000-8000-0000000000b1","UserId":"6f1c2a3b-0000-4000-8000-0000000000b2","OrganizationId":"6f1c2a3b-0000-4000-8000-0000000000b0"}`))
					return
				}
				h.ServeHTTP(w, r)
			})
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log.mu.Lock()
			log.log = nil
			log.mu.Unlock()
			serve(tc.handler(newServer()))
			e.writes.Store(0)
			c, err := dataverse.NewClient(e.c.ServiceRoot(), dataverse.StaticToken(token), &dataverse.ClientOptions{MaxRetries: 1,
				Transport: countingTransport{base: log.transport(http.DefaultTransport), writes: &e.writes}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = usdjob.Migrate(context.Background(), usdjob.Config{Dataverse: c, Translation: res, Store: store})
			var mismatch *migrations.TargetMismatchError
			if !errors.As(err, &mismatch) {
				t.Fatalf("run with the state of the first environment: err = %v, want a TargetMismatchError", err)
			}
			if n := e.writes.Load(); n != 0 {
				t.Errorf("the refused run sent %d writes", n)
			}
			probes := 0
			for _, r := range log.log {
				if strings.Contains(r.query, "$select=") && strings.Count(strings.SplitN(r.query, "&", 2)[0], ",") == 0 {
					probes++ // a read of the primary key alone: the sink's probe
				}
			}
			if got := probes > 0; got != tc.probed {
				t.Errorf("%d probes of the state's records, want some: %v", probes, tc.probed)
			}
		})
	}
}
