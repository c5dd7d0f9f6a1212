package conformance_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/conformance"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

// TestReferenceServer runs the suite against the in-process reference
// Dataverse on loopback.
func TestReferenceServer(t *testing.T) {
	srv, err := refserver.New(refserver.Options{Token: "conformance-token"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	conformance.Run(t, func(t *testing.T) *dataverse.Client {
		c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("conformance-token"), &dataverse.ClientOptions{
			// A limiter of its own, so parallel tests do not share one.
			Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{}),
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	})
}

// An expired delta token (older than the organisation's change retention)
// makes the client fall back to a full read and say so.
func TestReferenceServerExpiredDeltaTokenFallsBackToFullRead(t *testing.T) {
	srv, err := refserver.New(refserver.Options{Token: "conformance-token", ChangeRetention: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("conformance-token"), &dataverse.ClientOptions{Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Create(ctx, "account", dataverse.Record{"name": "tracked"}); err != nil {
		t.Fatal(err)
	}
	q := dataverse.Query{Select: []string{"name"}}
	first, err := c.TrackChanges(ctx, "account", q, "", func(dataverse.Change) error { return nil })
	if err != nil || first.DeltaLink == "" {
		t.Fatalf("initial read: %+v %v", first, err)
	}
	time.Sleep(100 * time.Millisecond) // let the token outlive the retention
	n := 0
	res, err := c.TrackChanges(ctx, "account", q, first.DeltaLink, func(dataverse.Change) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !res.Full || n != 1 || res.DeltaLink == "" {
		t.Fatalf("after expiry: %+v, %d rows; want a full read of 1 row", res, n)
	}
}
