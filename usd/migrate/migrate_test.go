package migrate_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/migrate"
)

const token = "migrate-test"

func newEnv(t testing.TB) (*dataverse.Client, string) {
	t.Helper()
	srv, err := refserver.New(refserver.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(token), &dataverse.ClientOptions{MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c, hs.URL
}

func translate(t testing.TB, fixture string) *workspace.Result {
	t.Helper()
	m, err := usd.LoadFile(context.Background(), filepath.Join("..", "..", "testdata", "usd", fixture))
	if err != nil {
		t.Fatal(err)
	}
	res, err := workspace.Translate(m, workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSmoke(t *testing.T) {
	c, _ := newEnv(t)
	res := translate(t, "contoso.zip")
	mg := &migrate.Migrator{Client: c, Result: res}
	ctx := context.Background()
	p, err := mg.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan %+v", p.Counts)
	run, err := mg.Apply(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run %+v", run.Counts)
	for _, r := range run.Records {
		if r.Error != "" {
			t.Errorf("%+v", r)
		}
	}
	for _, r := range run.Associations {
		if r.Error != "" {
			t.Errorf("%+v", r)
		}
	}
	for _, m := range run.Verification.Mismatches {
		t.Errorf("%v", m)
	}
	p, err = mg.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan2 %+v", p.Counts)
}
