package connection

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestLoopbackWithoutToken: `pull --env http://127.0.0.1:…` with no
// DVSYNC_TOKEN fails before any request, in one line that says what to set
// (issue 11 item 7); no Azure credential is built, so nothing reaches the
// cloud metadata address.
func TestLoopbackWithoutToken(t *testing.T) {
	t.Setenv("DVSYNC_TOKEN", "")
	t.Setenv("DVSYNC_ENV", "")
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := &Dataverse{Env: srv.URL}
	_, err := c.Client(nil, nil)
	if err == nil {
		t.Fatal("no error without a token for a loopback environment")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "DVSYNC_TOKEN") || !strings.Contains(msg, "accepts any token") {
		t.Errorf("message: %q", msg)
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests sent", hits.Load())
	}
}

// TestUnauthorizedNamesTheTokenSource: a 401 says which token was refused.
func TestUnauthorizedNamesTheTokenSource(t *testing.T) {
	t.Setenv("DVSYNC_TOKEN", "wrong")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"0x80048306","message":"The bearer token is not valid."}}`))
	}))
	defer srv.Close()
	c := &Dataverse{Env: srv.URL}
	client, err := c.Client(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = client.WhoAmI(context.Background())
	if err == nil {
		t.Fatal("WhoAmI succeeded")
	}
	msg := c.Explain(err).Error()
	if !strings.Contains(msg, "401") || !strings.Contains(msg, "the token in $DVSYNC_TOKEN") || !strings.Contains(msg, "--token-file") || strings.Contains(msg, "wrong") {
		t.Errorf("message: %s", msg)
	}
}

// TestExplainOnce: an error explained twice (by a command and again by
// root) says it once; other errors pass through untouched.
func TestExplainOnce(t *testing.T) {
	t.Setenv("DVSYNC_TOKEN", "wrong")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	client, err := (&Dataverse{Env: srv.URL}).Client(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = client.WhoAmI(context.Background())
	msg := Explain(fmt.Errorf("reading: %w", Explain(err))).Error()
	if strings.Count(msg, "the server refused") != 1 || !strings.HasPrefix(msg, "reading: ") {
		t.Errorf("message: %s", msg)
	}
	other := errors.New("boom")
	if Explain(other) != other || Explain(nil) != nil {
		t.Error("an error other than a 401 was changed")
	}
}
