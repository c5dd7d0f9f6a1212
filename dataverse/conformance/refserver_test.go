package conformance_test

import (
	"net/http/httptest"
	"testing"

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
