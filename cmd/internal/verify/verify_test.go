package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

func runVerify(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), &out, &errOut))
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// runMigrate runs the migration the verify checks, through the library
// (a command does not import another command).
func runMigrate(t *testing.T, dvURL, odooURL, state string) {
	t.Helper()
	ctx := context.Background()
	dv, err := dataverse.NewClient(dvURL, dataverse.StaticToken("tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := odoo.New(ctx, odoo.Options{URL: odooURL, Database: odooserver.Database, Login: "admin", APIKey: "key"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := odoojob.LoadMap("../../../testdata/odoodv/demo-map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	store, err := migrations.OpenSQLite(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, _, err := odoojob.Migrate(ctx, odoojob.Config{Odoo: oc, Database: odooserver.Database, Dataverse: dv, Map: m, Store: store}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

func TestVerifyCommand(t *testing.T) {
	ctx := context.Background()
	ref, err := refserver.New(refserver.Options{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	if _, err := ref.LoadSeed(ctx, "../../../testdata/dataverse/seed"); err != nil {
		t.Fatal(err)
	}
	dvs := httptest.NewServer(ref)
	t.Cleanup(dvs.Close)
	osrv, err := odooserver.New(odooserver.Options{APIKey: "key", SeedDir: "../../../testdata/odoo/seed"})
	if err != nil {
		t.Fatal(err)
	}
	ods := httptest.NewServer(osrv)
	t.Cleanup(ods.Close)
	t.Setenv("DVSYNC_TOKEN", "tok")
	t.Setenv("ODOO_API_KEY", "key")
	dir := t.TempDir()
	common := []string{"--odoo", ods.URL, "--odoo-db", odooserver.Database, "--odoo-user", "admin", "--env", dvs.URL,
		"--state", filepath.Join(dir, "state.db"), "--map", "../../../testdata/odoodv/demo-map.yaml"}

	if _, err := runVerify(t, common...); err == nil || !strings.Contains(err.Error(), "state file") {
		t.Errorf("verify before any run: %v", err)
	}
	runMigrate(t, dvs.URL, ods.URL, filepath.Join(dir, "state.db"))
	report := filepath.Join(dir, "report")
	out, err := runVerify(t, append(common, "--report", report)...)
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if !strings.Contains(out, "OK: no mismatches") || !strings.Contains(out, "notes") {
		t.Errorf("output:\n%s", out)
	}
	for _, f := range []string{"verify.html", "verify.json"} {
		if b, err := os.ReadFile(filepath.Join(report, f)); err != nil || len(b) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Every skipped record is listed with its reason beside the report,
	// the summary groups the reasons, and the report names both systems
	// (issue 11 items 4 and 10).
	skips, _ := os.ReadFile(filepath.Join(report, "verify-skips.jsonl"))
	n := strings.Count(string(skips), "\n")
	for _, want := range []string{fmt.Sprintf("Skipped %d records on purpose by the mapping; each one, with its reason, is in %s:", n, filepath.Join(report, "verify-skips.jsonl")),
		"users     Odoo's system user (OdooBot)", "\ntotal "} {
		if n == 0 || !strings.Contains(out, want) {
			t.Errorf("output lacks %q (%d skip lines):\n%s", want, n, out)
		}
	}
	html, _ := os.ReadFile(filepath.Join(report, "verify.html"))
	for _, want := range []string{ods.URL, "database " + odooserver.Database, dvs.URL, "verify-skips.jsonl", "What to do next"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("verify.html lacks %q", want)
		}
	}

	// A note removed behind the migration's back fails verify.
	dv, _ := dataverse.NewClient(dvs.URL, dataverse.StaticToken("tok"), nil)
	var id string
	for r, err := range dv.Records(ctx, "annotation", dataverse.Query{Select: []string{"annotationid"}, Filter: dataverse.StartsWith("subject", "Cannot log in"), Top: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		id = r.String("annotationid")
	}
	if id == "" {
		t.Fatal("no migrated note found")
	}
	if err := dv.Delete(ctx, "annotation", dataverse.Key{Alternate: nil, ID: mustUUID(t, id)}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = runVerify(t, append(common, "--report", report, "--sample", "50", "--seed", "3")...)
	var exit *output.ExitError
	// Mismatches exit with the documented "finished with rejects or
	// mismatches" code (exitcode.Rejects), not the failure code.
	if !errors.As(err, &exit) || exit.Code != exitcode.Rejects {
		// The sample may miss the note; the full check may not.
		out, err = runVerify(t, append(common, "--report", report)...)
		if !errors.As(err, &exit) || exit.Code != exitcode.Rejects {
			t.Fatalf("verify after deleting a note: %v\n%s", err, out)
		}
	}
	if html, _ := os.ReadFile(filepath.Join(report, "verify.html")); !bytes.Contains(html, []byte("missing")) {
		t.Error("HTML report does not list the missing note")
	}
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	u, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
