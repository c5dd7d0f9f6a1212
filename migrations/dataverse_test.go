package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/migrationstest"
)

const refToken = "migrations-test-token"

func newRefClient(t testing.TB, faults string) *dataverse.Client {
	t.Helper()
	f, err := refserver.ParseFaults(faults)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := refserver.New(refserver.Options{Token: refToken, Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(refToken), &dataverse.ClientOptions{
		Limiter:      dataverse.NewLimiter(dataverse.LimiterOptions{}),
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// shopJob migrates companies to accounts (upsert by accountnumber) and
// their tickets to incidents (upsert by ticketnumber) bound to the account
// through the ID map. Ticket i%23 == 0 has priority 99, which Dataverse
// rejects (outside the choice's values).
func shopJob(c *dataverse.Client, nAcc, nCases int) *migrations.Job {
	accounts := migrationstest.NewSource(nAcc, func(i int) map[string]any {
		return map[string]any{"name": fmt.Sprintf("Company %d", i), "phone": fmt.Sprintf("+1 555 %04d", i)}
	})
	cases := migrationstest.NewSource(nCases, func(i int) map[string]any {
		prio := i%3 + 1
		if i%23 == 0 {
			prio = 99
		}
		return map[string]any{"title": fmt.Sprintf("Ticket %d", i), "company": strconv.Itoa(i%nAcc + 1), "priority": prio}
	})
	target := sink.New(c, nil)
	return &migrations.Job{Name: "shop", Steps: []*migrations.Step{
		{
			Name: "accounts", Source: accounts, Target: target,
			Map: func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
				return migrations.Write(migrations.TargetRecord{
					Table:  "account",
					Key:    migrations.Key{Alternate: map[string]any{"accountnumber": "A-" + r.ID}},
					Fields: map[string]any{"name": r.Field("name"), "telephone1": r.Field("phone")},
				})
			},
		},
		{
			Name: "cases", DependsOn: []string{"accounts"}, Source: cases, Target: target,
			Map: func(r migrations.SourceRecord, ids migrations.IDs) migrations.MapResult {
				acc, ok := ids.Lookup("accounts", r.Field("company"))
				if !ok || acc.ID == "" {
					return migrations.Reject(fmt.Errorf("company %s has no migrated account", r.Field("company")))
				}
				fields := map[string]any{
					"title":                         r.Field("title"),
					"prioritycode":                  r.Data["priority"],
					"customerid_account@odata.bind": "/accounts(" + acc.ID + ")",
				}
				return migrations.Write(migrations.TargetRecord{
					Table:  "incident",
					Key:    migrations.Key{Alternate: map[string]any{"ticketnumber": "CAS-" + r.ID}},
					Fields: fields,
				})
			},
		},
	}}
}

func TestDataverseEndToEnd(t *testing.T) {
	c := newRefClient(t, "")
	st := openStore(t)
	job := shopJob(c, 12, 120)
	sum, err := migrations.Run(t.Context(), job, migrations.RunOptions{Store: st, BatchSize: 25, Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	rejected := int64(120 / 23)
	if a := sum.Steps[0].Counts; a.Read != 12 || a.TotalWritten() != 12 {
		t.Errorf("accounts %+v", a)
	}
	if cs := sum.Steps[1].Counts; cs.Read != 120 || cs.TotalWritten() != 120-rejected || cs.Rejected != rejected {
		t.Errorf("cases %+v", cs)
	}
	// The ID map holds Dataverse's IDs, and the links point at them.
	ref, err := st.LookupIDs(t.Context(), "shop", "accounts", "5")
	if err != nil || len(ref) != 1 || ref[0].ID == "" {
		t.Fatalf("account 5 in the ID map: %+v %v", ref, err)
	}
	inc, err := c.Get(t.Context(), "incident", dataverse.ByKey("ticketnumber", "CAS-4"))
	if err != nil {
		t.Fatal(err)
	}
	if inc.String("_customerid_value") != ref[0].ID || inc.String("title") != "Ticket 4" {
		t.Errorf("CAS-4 = %v, want customer %s", inc, ref[0].ID)
	}

	reader := sink.New(c, nil)
	rep, err := migrations.Verify(t.Context(), job, migrations.VerifyOptions{Target: reader, Store: st, Compare: reader.Compare})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Steps[1].Tables["incident"].Found != 120-rejected || rep.Steps[1].Tables["incident"].Rejected != rejected {
		t.Fatalf("verify: %+v %+v", rep.Steps[1], rep.Steps[1].Tables["incident"])
	}

	// A link changed behind the migration's back is reported.
	other, _ := st.LookupIDs(t.Context(), "shop", "accounts", "1")
	if _, err := c.Upsert(t.Context(), "incident", dataverse.ByKey("ticketnumber", "CAS-4"), dataverse.Record{
		"customerid_account@odata.bind": "/accounts(" + other[0].ID + ")", "prioritycode": 3,
	}); err != nil {
		t.Fatal(err)
	}
	rep, err = migrations.Verify(t.Context(), job, migrations.VerifyOptions{Target: reader, Store: st, Compare: reader.Compare, Steps: []string{"cases"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || len(rep.Steps[0].Mismatches) != 1 || len(rep.Steps[0].Mismatches[0].Fields) != 2 {
		t.Fatalf("tampered CAS-4 not reported: %+v", rep.Steps[0].Mismatches)
	}
	fields := map[string]bool{}
	for _, f := range rep.Steps[0].Mismatches[0].Fields {
		fields[f.Field] = true
	}
	if !fields["customerid"] || !fields["prioritycode"] {
		t.Errorf("differing fields %+v", rep.Steps[0].Mismatches[0].Fields)
	}

	// Re-reading everything leaves one copy of each record.
	if _, err := migrations.Run(t.Context(), job, migrations.RunOptions{Store: st, Restart: true}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range c.Records(t.Context(), "incident", dataverse.Query{Select: []string{"incidentid"}, Filter: dataverse.StartsWith("ticketnumber", "CAS-")}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if int64(n) != 120-rejected {
		t.Errorf("%d incidents after a full re-run, want %d", n, 120-rejected)
	}
}

// TestDataverseResumeUnderFaults runs the job against a server that drops
// connections after applying writes and answers 503/500, cancelling runs at
// random moments, until it succeeds; verify then finds nothing lost or
// duplicated.
func TestDataverseResumeUnderFaults(t *testing.T) {
	c := newRefClient(t, "seed=3,503=0.03,500=0.02,reset=0.03")
	st := openStore(t)
	const nAcc, nCases = 15, 200
	job := shopJob(c, nAcc, nCases)
	rng := rand.New(rand.NewPCG(11, 12))
	interrupted := 0
	for run := 0; ; run++ {
		if run == 50 {
			t.Fatal("no successful run in 50 attempts")
		}
		ctx, cancel := context.WithCancel(t.Context())
		stopAfter := 1 + rng.IntN(12)
		batches := 0
		_, err := migrations.Run(ctx, job, migrations.RunOptions{Store: st, BatchSize: 10, Concurrency: 3,
			Progress: func(migrations.StepProgress) {
				if batches++; run < 4 && batches == stopAfter {
					cancel()
				}
			}})
		cancel()
		if err == nil {
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Logf("run %d: %v", run, err)
		}
		interrupted++
	}
	if interrupted == 0 {
		t.Fatal("no run was interrupted: the test did not exercise resuming")
	}
	rep, err := migrations.Verify(t.Context(), job, migrations.VerifyOptions{
		Target: sink.New(c, nil), Store: st, Compare: sink.New(c, nil).Compare})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("after %d interrupted runs verify finds %d mismatches: %+v", interrupted, rep.Mismatches(), rep.Steps)
	}
	inc := rep.Steps[1].Tables["incident"]
	if want := int64(nCases - nCases/23); inc.Found != want {
		t.Errorf("found %d incidents, want %d", inc.Found, want)
	}
}

// A key with both an alternate key and a deterministic ID creates the
// record with that ID and updates it by alternate key afterwards.
func TestDataverseTargetKeyWithID(t *testing.T) {
	c := newRefClient(t, "")
	tgt := sink.New(c, nil)
	id := migrations.DeterministicID("shop", "account", "77")
	rec := migrations.TargetRecord{Table: "account",
		Key:    migrations.Key{ID: id, Alternate: map[string]any{"accountnumber": "A-77"}},
		Fields: map[string]any{"name": "Seventy-seven"}}
	for _, name := range []string{"Seventy-seven", "Renamed"} {
		rec.Fields["name"] = name
		res, err := tgt.Write(t.Context(), []migrations.TargetRecord{rec})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Outcome == migrations.Rejected || res[0].ID != id {
			t.Fatalf("write %s: %+v, want ID %s", name, res[0], id)
		}
	}
	got, err := c.Get(t.Context(), "account", dataverse.ByKey("accountnumber", "A-77"))
	if err != nil {
		t.Fatal(err)
	}
	if got.String("accountid") != id || got.String("name") != "Renamed" {
		t.Errorf("account %v, want ID %s named Renamed", got, id)
	}
	rows, err := tgt.Lookup(t.Context(), "account", rec.Key)
	if err != nil || len(rows) != 1 {
		t.Errorf("reader found %d rows, %v", len(rows), err)
	}
}
