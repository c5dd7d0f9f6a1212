// Package odoojobtest starts the reference Dataverse and the reference Odoo
// for tests of the Odoo migration, from the library and from the command
// alike.
package odoojobtest

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// Credentials the reference servers of these tests accept.
const (
	DVToken = "migrate-test-token"
	OdooKey = "migrate-test-key"
)

// Testdata is the repository's testdata folder, wherever the test runs.
func Testdata(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", "..", "..", "testdata"}, parts...)...)
}

// Servers are the two reference servers and clients of them.
type Servers struct {
	DVURL, OdooURL string
	DV             *dataverse.Client
	Odoo           *odoo.Client
	Ref            *refserver.Server
}

// Start starts the reference Dataverse (with its seed, for users and
// calendars) and the reference Odoo with seedDir.
func Start(t testing.TB, seedDir string, faults *refserver.Faults) *Servers {
	t.Helper()
	ctx := context.Background()
	ref, err := refserver.New(refserver.Options{Token: DVToken, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	if _, err := ref.LoadSeed(ctx, Testdata("dataverse", "seed")); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ref)
	t.Cleanup(hs.Close)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	osrv, err := odooserver.New(odooserver.Options{APIKey: OdooKey, SeedDir: seedDir, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	os := httptest.NewServer(osrv)
	t.Cleanup(os.Close)
	dv, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(DVToken), &dataverse.ClientOptions{Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := odoo.New(ctx, odoo.Options{URL: os.URL, Database: odooserver.Database, Login: "admin", APIKey: OdooKey})
	if err != nil {
		t.Fatal(err)
	}
	return &Servers{DVURL: hs.URL, OdooURL: os.URL, DV: dv, Odoo: oc, Ref: ref}
}

// SmallSeed generates a helpdesk of n tickets over the base seed, for the
// tests that need a migration but not the hand-written tickets.
func SmallSeed(t testing.TB, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "odoo")
	if _, err := odooseed.Generate(odooseed.Options{BaseDir: Testdata("odoo", "seed"), OutDir: dir, Tickets: n, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// DemoMap is the demo's mapping file.
func DemoMap(t testing.TB) *odoodv.Map {
	t.Helper()
	m, err := odoodv.LoadMap(Testdata("odoodv", "demo-map.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
