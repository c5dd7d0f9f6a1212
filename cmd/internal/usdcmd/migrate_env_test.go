package usdcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/cmtseed"
)

// USD read from one environment, workspace written to another; the same
// source environment assesses like the zip.
func TestMigrateFromEnvironment(t *testing.T) {
	inTempDir(t)
	src, srcURL, _ := refEnv(t, nil)
	_, dstURL, _ := refEnv(t, nil)
	ctx := context.Background()
	if _, err := cmtseed.ImportFile(ctx, src, fixture("contoso.zip")); err != nil {
		t.Fatal(err)
	}
	m, err := usd.LoadFile(ctx, fixture("contoso.zip"))
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := usd.Select(m, "")
	res, _ := workspace.Translate(sel, workspace.Options{})
	stdout, _, err := run(t, "migrate", "--env", srcURL, "--to-env", dstURL, "--json")
	if err != nil {
		t.Fatal(err)
	}
	v := decodeMigrate(t, stdout)
	links := 0
	for _, r := range v.Records {
		links += r.Links
	}
	if v.Configuration != sel.Selected || v.Total().Created != int64(len(res.Records)) || links != len(res.Associations) {
		t.Errorf("from the environment: configuration %q, counts %+v, %d links; from the zip: %q, %d records, %d links",
			v.Configuration, v.Total(), links, sel.Selected, len(res.Records), len(res.Associations))
	}
	checkAssessEnvironmentMatchesZip(t, srcURL)
}

// checkAssessEnvironmentMatchesZip checks that `usd assess --env` against
// an environment holding the realistic fixture reports what `usd assess
// --from` reports for the zip, membership lists included (a
// configuration's report depends on them).
func checkAssessEnvironmentMatchesZip(t *testing.T, url string) {
	t.Helper()
	type report struct {
		Configuration string            `json:"configuration"`
		Items         []json.RawMessage `json:"items"`
		Totals        json.RawMessage   `json:"totals"`
	}
	for _, cfg := range []string{"Tier 1 Agents", "Supervisors"} {
		var fromEnv, fromZip report
		stdout, _, err := run(t, "assess", "--env", url, "--configuration", cfg, "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(stdout), &fromEnv); err != nil {
			t.Fatal(err)
		}
		stdout, _, err = run(t, "assess", "--from", fixture("contoso.zip"), "--configuration", cfg, "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(stdout), &fromZip); err != nil {
			t.Fatal(err)
		}
		if fromEnv.Configuration != cfg || len(fromEnv.Items) == 0 || len(fromEnv.Items) != len(fromZip.Items) || string(fromEnv.Totals) != string(fromZip.Totals) {
			t.Errorf("%s: environment gives %d items, totals %s; zip %d items, totals %s", cfg, len(fromEnv.Items), fromEnv.Totals, len(fromZip.Items), fromZip.Totals)
		}
	}
}

// A target without alternate keys on the unique names (a real environment
// out of the box) is written by ID, and the command says so.
func TestMigrateKeylessTarget(t *testing.T) {
	inTempDir(t)
	reg := schema.Default()
	for _, name := range workspace.TableOrder {
		tb, _ := reg.Table(name)
		tb.AlternateKeys = nil
	}
	srv, err := refserver.New(refserver.Options{Token: migrateToken, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	t.Setenv("DVSYNC_TOKEN", migrateToken)
	stdout, stderr, err := run(t, "migrate", "--from", fixture("small.zip"), "--to-env", hs.URL, "--json")
	if err != nil {
		t.Fatal(err)
	}
	v := decodeMigrate(t, stdout)
	if tot := v.Total(); v.Addressing != "id" || tot.Created == 0 || tot.Created != tot.Read || !v.OK() {
		t.Errorf("keyless target: %s %+v", v.Addressing, tot)
	}
	if !strings.Contains(stderr, "no alternate key on the unique name of msdyn_appconfiguration") {
		t.Errorf("stderr = %q", stderr)
	}
}

// The shared PostgreSQL store: a run, then a re-run that finds every
// record in place, with --state postgres://… (DVSYNC_TEST_POSTGRES; .ci/run
// starts a server, elsewhere the test is skipped).
func TestMigratePostgresState(t *testing.T) {
	pg := postgresURL(t)
	dir := inTempDir(t)
	_, url, writes := refEnv(t, nil)
	args := []string{"migrate", "--from", fixture("small.zip"), "--to-env", url, "--state", pg, "--json"}
	stdout, _, err := run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	first := decodeMigrate(t, stdout)
	if tot := first.Total(); tot.Created != tot.Read || tot.Read == 0 || !first.OK() {
		t.Fatalf("first run with the PostgreSQL store: %+v, state %q", tot, first.State)
	}
	before := writes.Load()
	stdout, _, err = run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	again := decodeMigrate(t, stdout)
	if tot := again.Total(); tot.Unchanged != tot.Read || writes.Load() != before || !again.OK() || again.RunID == first.RunID {
		t.Errorf("re-run: %+v, %d writes", tot, writes.Load()-before)
	}
	if f := files(t, dir); len(f) != 0 {
		t.Errorf("a run with the PostgreSQL store left %v behind", f)
	}
}

// postgresURL returns DVSYNC_TEST_POSTGRES with a new schema as its
// search_path, dropped at the end of the test.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("DVSYNC_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DVSYNC_TEST_POSTGRES is not set; .ci/run must start PostgreSQL and export it")
		}
		t.Skip("DVSYNC_TEST_POSTGRES not set (e.g. postgres://dvsync@127.0.0.1:55432/dvsync_test); skipping the PostgreSQL store test")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("DVSYNC_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("usd_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), base); err == nil {
			c.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
