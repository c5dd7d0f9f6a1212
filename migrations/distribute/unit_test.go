package distribute

import (
	"context"
	"encoding/json"
	"iter"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/dvsync/dvsync/migrations"
)

func TestParseAppUsers(t *testing.T) {
	good := `users:
  - name: app1
    token_env: DVSYNC_TOKEN_APP1
  - name: app2
    client_id: 0b5b7f3a
    tenant_id: 72f988bf
    secret_file: /var/run/secrets/app2/client-secret
  - name: app3
    auth: managed-identity
`
	users, err := ParseAppUsers("users.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 3 || users[1].kind() != "client-secret" || users[0].kind() != "token" {
		t.Fatalf("%+v", users)
	}
	// The job description the workers receive holds names, never secrets.
	b, _ := json.Marshal(Unit{Users: users})
	if strings.Contains(string(b), "secret\":") {
		t.Errorf("unit JSON: %s", b)
	}
	for _, bad := range []struct{ text, want string }{
		{"users:\n  - name: a\n    token: abc\n", "secrets never go in this file"},
		{"users:\n  - name: a\n    client_secret: abc\n    client_id: x\n", "secrets never go in this file"},
		{"users:\n  - name: a\n    token_env: X\n  - name: a\n    token_env: Y\n", "listed twice"},
		{"users:\n  - name: a\n    auth: client-secret\n", "needs client_id"},
		{"users:\n  - name: a\n    tokn_env: X\n", "tokn_env"},
		{"users: []\n", "no users listed"},
	} {
		_, err := ParseAppUsers("users.yaml", []byte(bad.text))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.text, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "abc") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}

func TestAppUserCredentialFromEnvironment(t *testing.T) {
	t.Setenv("DVSYNC_TOKEN_APP1", "")
	u := AppUser{Name: "app1", TokenEnv: "DVSYNC_TOKEN_APP1"}
	if _, err := u.Credential("http://127.0.0.1:1/"); err == nil || !strings.Contains(err.Error(), "$DVSYNC_TOKEN_APP1 is empty on this worker") {
		t.Fatalf("empty variable: %v", err)
	}
	t.Setenv("DVSYNC_TOKEN_APP1", "s3cret")
	cred, err := u.Credential("http://127.0.0.1:1/")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"x"}})
	if err != nil || tok.Token != "s3cret" {
		t.Fatalf("token %q, %v", tok.Token, err)
	}
}

// ids is a source of records 1..n whose cursors are their ids.
func ids(n int) migrations.Source {
	return migrations.SourceFunc(func(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
		return func(yield func(migrations.SourceRecord, error) bool) {
			after := 0
			if cursor != "" {
				after, _ = strconv.Atoi(cursor)
			}
			for i := after + 1; i <= n; i++ {
				s := strconv.Itoa(i)
				if !yield(migrations.SourceRecord{ID: s, Cursor: s, Data: map[string]any{}}, nil) {
					return
				}
			}
		}
	})
}

func read(t *testing.T, r *rangeSource, cursor string) []string {
	t.Helper()
	var out []string
	for rec, err := range r.Records(context.Background(), cursor) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.ID)
	}
	return out
}

func TestRangeSource(t *testing.T) {
	r := &rangeSource{src: ids(20), from: 5, to: 9}
	if got := strings.Join(read(t, r, ""), ","); got != "5,6,7,8" {
		t.Errorf("from the start: %s", got)
	}
	if got := strings.Join(read(t, r, "6"), ","); got != "7,8" {
		t.Errorf("from checkpoint 6: %s", got)
	}
	if got := strings.Join(read(t, &rangeSource{src: ids(20), from: 18}, ""), ","); got != "18,19,20" {
		t.Errorf("open range: %s", got)
	}
	// Past its deadline a slice stops after the first record.
	cut := &rangeSource{src: ids(20), from: 0, deadline: time.Now().Add(-time.Second)}
	if got := strings.Join(read(t, cut, "3"), ","); got != "4" || !cut.cut.Load() {
		t.Errorf("past the deadline: %s (cut %v)", got, cut.cut.Load())
	}
}

// TestPartitionStore: a unit's batches land in the job's ID map and
// rejects but in its own checkpoint and journal, and a cut slice does not
// mark the unit done.
func TestPartitionStore(t *testing.T) {
	ctx := context.Background()
	inner, err := migrations.OpenSQLite(ctx, t.TempDir()+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	cut := false
	u := Unit{Run: "r1", Type: UnitOdooRange, Job: "j", Step: "cases", From: 100, To: 200}
	ps := &partitionStore{Store: inner, step: "cases", part: u.Name(), journal: journalName("j", u.Name(), "r1"), truncated: func() bool { return cut }}
	run, err := ps.BeginRun(ctx, "j", []string{"cases"})
	if err != nil {
		t.Fatal(err)
	}
	c := migrations.Commit{Job: "j", Step: "cases", RunID: run, Cursor: "150", Done: true,
		IDs:    []migrations.IDEntry{{SourceID: "150", Ref: migrations.Ref{Table: "incident", Key: "k"}}},
		Counts: migrations.Counts{Read: 1, Created: 1}}
	cut = true
	if err := ps.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := ps.EndRun(ctx, run, migrations.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	if refs, _ := inner.LookupIDs(ctx, "j", "cases", "150"); len(refs) != 1 {
		t.Errorf("ID map of the step: %v", refs)
	}
	if cp, _ := inner.Checkpoint(ctx, "j", "cases"); cp.Cursor != "" {
		t.Errorf("the step's own checkpoint moved: %+v", cp)
	}
	cp, _ := ps.Checkpoint(ctx, "j", "cases")
	if cp.Cursor != "150" || cp.Done {
		t.Errorf("unit checkpoint %+v: want cursor 150, not done (the slice was cut)", cp)
	}
	if u.Name() != "cases@100-199" {
		t.Errorf("name %s", u.Name())
	}
	runs, _ := inner.Runs(ctx, journalName("j", u.Name(), "r1"))
	if len(runs) != 1 || runs[0].Steps[0].Counts.Read != 1 || runs[0].Steps[0].Step != u.Name() {
		t.Errorf("unit journal: %+v", runs)
	}
}
