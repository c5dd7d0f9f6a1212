package synccmd_test

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

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// --fresh starts a job over: every table is read in full again; with
// --dry-run it is a usage error (a dry run clears nothing), and while a
// run holds the job's lock nothing is cleared (exit 4).
func TestSyncFresh(t *testing.T) {
	url, _ := server(t, 7)
	dir := t.TempDir()
	job := writeJob(t, dir, "name: again\nsource:\n  dataverse: {env: "+url+"}\ntarget:\n  sqlite: m.db\ntables: [incident]\n")
	if code, out, errOut := execute("sync", "--job", job); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	read := func(args ...string) int64 {
		t.Helper()
		code, out, errOut := execute(append([]string{"sync", "--job", job, "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s %s", code, out, errOut)
		}
		var sum syncjob.Summary
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatal(err)
		}
		return sum.Totals.Read
	}
	if n := read(); n != 0 {
		t.Errorf("a second run read %d rows; nothing changed", n)
	}
	if n := read("--fresh"); n != 7 {
		t.Errorf("--fresh read %d rows, want the whole table (7)", n)
	}
	if code, _, errOut := execute("sync", "--job", job, "--fresh", "--dry-run"); code != exitcode.Usage || !strings.Contains(errOut, "--fresh") {
		t.Errorf("--fresh --dry-run: exit %d: %s", code, errOut)
	}
	st, err := syncjob.OpenStore(context.Background(), filepath.Join(dir, "again.state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	unlock, err := st.Lock(context.Background(), "again")
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := execute("sync", "--job", job, "--fresh")
	unlock()
	if code != exitcode.Locked || !strings.Contains(errOut, "nothing was cleared") {
		t.Errorf("--fresh while locked: exit %d: %s", code, errOut)
	}
	if cp, _ := st.Checkpoint(context.Background(), "again", "incident"); cp.Phase != "current" {
		t.Errorf("a refused --fresh cleared the checkpoint: %+v", cp)
	}
}

// --state postgres://… keeps a sync job's state in PostgreSQL: a second
// run resumes from it, history reads it, and the password never shows.
func TestSyncPostgresState(t *testing.T) {
	base := os.Getenv("DVSYNC_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but DVSYNC_TEST_POSTGRES is not")
		}
		t.Skip("DVSYNC_TEST_POSTGRES is not set: skipping the PostgreSQL state")
	}
	schema := fmt.Sprintf("synccmd_%d", os.Getpid())
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
	if pw, ok := u.User.Password(); ok {
		t.Setenv("PGPASSWORD", pw)
	}
	const secret = "n0t-the-real-s3cret"
	u.User = url.UserPassword(u.User.Username(), secret)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	state := u.String()

	dvURL, _ := server(t, 5)
	dir := t.TempDir()
	job := writeJob(t, dir, "name: shared\nsource:\n  dataverse: {env: "+dvURL+"}\ntarget:\n  sqlite: m.db\ntables: [incident]\n")
	var texts []string
	for i, want := range []int64{5, 0} {
		code, out, errOut := execute("sync", "--job", job, "--state", state, "--json")
		texts = append(texts, out, errOut)
		if code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, errOut)
		}
		var sum syncjob.Summary
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Totals.Read != want {
			t.Errorf("run %d read %d rows, want %d", i, sum.Totals.Read, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "shared.state.db")); err == nil {
		t.Error("a SQLite state file was created beside the job")
	}
	code, out, errOut := execute("sync", "history", "--job", job, "--state", state)
	texts = append(texts, out, errOut)
	if code != 0 || strings.Count(out, "succeeded") != 2 {
		t.Errorf("history: exit %d:\n%s", code, out)
	}
	for _, text := range texts {
		if strings.Contains(text, secret) {
			t.Errorf("the password reached the output:\n%s", text)
		}
	}
}
