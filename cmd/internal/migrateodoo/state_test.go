package migrateodoo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/migrations/statestore"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// counts is the record count of every table the migration writes.
func counts(t *testing.T, s *servers) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	sk := sink.New(s.dv, nil)
	for _, table := range odoojob.Tables {
		n, err := sk.CountAll(context.Background(), table)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

func migrateArgs(s *servers, dir, state string) []string {
	return []string{"--odoo", s.odooURL, "--odoo-db", odooserver.Database, "--odoo-user", "admin", "--env", s.dvURL,
		"--state", state, "--map", odoojobtest.Testdata("odoodv", "demo-map.yaml"),
		"--rejects", filepath.Join(dir, "rejects.jsonl"), "--warnings", filepath.Join(dir, "warnings.jsonl")}
}

func verifyWith(t *testing.T, s *servers, state string) *migrations.Report {
	t.Helper()
	ctx := context.Background()
	store, ok, err := statestore.OpenExisting(ctx, state)
	if err != nil || !ok {
		t.Fatalf("state %s: %v %v", statestore.Describe(state), ok, err)
	}
	defer store.Close()
	oc, err := odoo.New(ctx, odoo.Options{URL: s.odooURL, Database: odooserver.Database, Login: "admin", APIKey: odooKey})
	if err != nil {
		t.Fatal(err)
	}
	m, err := odoojob.LoadMap(odoojobtest.Testdata("odoodv", "demo-map.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := odoojob.Verify(ctx, odoojob.Config{Odoo: oc, Database: odooserver.Database, Dataverse: s.dv, Map: m, Store: store}, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// Issue 11, finding 1: a state that belongs to another environment (a
// reference server started anew, a sandbox reset) is refused in one line,
// before anything is written; --fresh starts over and verifies clean.
func TestStateOfAnotherEnvironmentIsRefused(t *testing.T) {
	seed := smallSeed(t, 20)
	a, b := startServers(t, seed), startServers(t, seed)
	dir := t.TempDir()
	t.Setenv("DVSYNC_TOKEN", dvToken)
	t.Setenv("ODOO_API_KEY", odooKey)
	state := filepath.Join(dir, "state.db")
	if _, _, err := runCmd(t, migrateArgs(a, dir, state)...); err != nil {
		t.Fatal(err)
	}

	before := counts(t, b)
	_, _, err := runCmd(t, migrateArgs(b, dir, state)...)
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (%v), want 1", exitCode(err), err)
	}
	msg := err.Error()
	t.Logf("refusal: %s", msg)
	for _, want := range []string{state, "--fresh", "--env", "nothing was written", a.dvURL} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("refusal spans lines: %q", msg)
	}
	if after := counts(t, b); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the refused run wrote to B: %v → %v", before, after)
	}

	out, _, err := runCmd(t, append(migrateArgs(b, dir, state), "--fresh", "--json")...)
	if err != nil {
		t.Fatalf("--fresh: %v", err)
	}
	var res odoojob.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if tot := res.Total(); tot.Rejected != 0 || tot.TotalWritten() == 0 {
		t.Errorf("fresh run %+v", tot)
	}
	if rep := verifyWith(t, b, state); !rep.OK || rep.TotalRejected() != 0 {
		t.Errorf("verify after --fresh: OK %v, %d mismatches, %d rejected", rep.OK, rep.Mismatches(), rep.TotalRejected())
	}
	// The state now belongs to B: a resume there passes the check.
	if _, _, err := runCmd(t, append(migrateArgs(b, dir, state), "--dry-run")...); err != nil {
		t.Errorf("dry run against the state's own environment: %v", err)
	}
}

// --state postgres://… works for migrate odoo: a run, a resume that finds
// everything done, and verify from the same state; the password never
// reaches the output. A shared state has no folder, so the report goes to
// the current one: the test runs in a folder of its own.
func TestMigrateWithPostgresState(t *testing.T) {
	base := os.Getenv("DVSYNC_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but DVSYNC_TEST_POSTGRES is not")
		}
		t.Skip("DVSYNC_TEST_POSTGRES is not set: skipping the PostgreSQL state")
	}
	schema := fmt.Sprintf("migrate_%d", os.Getpid())
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			c.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "n0t-the-real-s3cret"
	if pw, ok := u.User.Password(); ok {
		t.Setenv("PGPASSWORD", pw)
	}
	// The test server trusts loopback; the password is there to prove it
	// never shows.
	u.User = url.UserPassword(u.User.Username(), secret)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	state := u.String()

	s := startServers(t, smallSeed(t, 10))
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("DVSYNC_TOKEN", dvToken)
	t.Setenv("ODOO_API_KEY", odooKey)
	// A plan against a database without state creates none.
	if _, _, err := runCmd(t, append(migrateArgs(s, dir, state), "--dry-run")...); err != nil {
		t.Fatal(err)
	}
	if ok, err := statestoreExists(state); ok || err != nil {
		t.Fatalf("the dry run created the state: %v %v", ok, err)
	}
	out, errOut, err := runCmd(t, migrateArgs(s, dir, state)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"migration.html", "migration.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("the report of a run with a shared state is not in the current folder: %v", err)
		}
	}
	out2, errOut2, err := runCmd(t, append(migrateArgs(s, dir, state), "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var again odoojob.Result
	if err := json.Unmarshal([]byte(out2), &again); err != nil {
		t.Fatal(err)
	}
	// Every step is done in the state: the resume reads nothing again.
	if again.Status != migrations.StatusSucceeded || again.Total().Read != 0 {
		t.Errorf("resume from PostgreSQL state: %s %+v", again.Status, again.Total())
	}
	for _, text := range []string{out, errOut, out2, errOut2} {
		if strings.Contains(text, secret) {
			t.Errorf("the password reached the output:\n%s", text)
		}
	}
	if rep := verifyWith(t, s, state); !rep.OK {
		t.Errorf("verify from PostgreSQL state: %d mismatches", rep.Mismatches())
	}
	// Another environment with this state is refused, with the password
	// kept out of the message.
	other := startServers(t, smallSeed(t, 10))
	_, _, err = runCmd(t, migrateArgs(other, dir, state)...)
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "--fresh") || strings.Contains(err.Error(), secret) {
		t.Errorf("another environment: exit %d: %v", exitCode(err), err)
	}
}

func statestoreExists(state string) (bool, error) {
	s, ok, err := statestore.OpenExisting(context.Background(), state)
	if s != nil {
		s.Close()
	}
	return ok, err
}
