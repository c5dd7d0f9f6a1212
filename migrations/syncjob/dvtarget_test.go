package syncjob_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// Dataverse → Dataverse: cases are written into another environment by
// their alternate key (ticketnumber), their customer re-bound by the
// account's key (accountnumber) to the target's own account, whose GUID
// differs; changes and deletes follow.
func TestSyncDataverseToDataverseByAlternateKey(t *testing.T) {
	src := newEnv(t, refserver.Options{})
	dst := newEnv(t, refserver.Options{})
	ctx := context.Background()
	const srcAcc, dstAcc = "0a0a0a0a-0000-4000-8000-00000000a001", "0b0b0b0b-0000-4000-8000-00000000b001"
	for _, e := range []struct {
		env *env
		id  string
	}{{src, srcAcc}, {dst, dstAcc}} {
		if err := e.env.srv.InsertRows(ctx, "account", 1, func(int) map[string]any {
			return map[string]any{"accountid": e.id, "name": "Fabrikam", "accountnumber": "ACC-1", "statecode": 0, "statuscode": 1}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.srv.InsertRows(ctx, "incident", 12, func(i int) map[string]any {
		return map[string]any{"incidentid": incidentID(i), "title": fmt.Sprintf("Case %d", i), "ticketnumber": fmt.Sprintf("CAS-%04d", i),
			"prioritycode": 2, "statecode": 0, "statuscode": 1, "customerid": refserver.Ref{Table: "account", ID: srcAcc}}
	}); err != nil {
		t.Fatal(err)
	}
	sc, ctr := src.client(t, 5)
	dc, err := dataverse.NewClient(dst.url, dataverse.StaticToken(refToken), &dataverse.ClientOptions{Transport: ctr})
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("name: copy\nsource:\n  dataverse: {env: %s}\ntarget:\n  dataverse: {env: %s}\ntables: [incident]\npage_size: 5\n", src.url, dst.url)
	path := filepath.Join(src.dir, "copy.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	job, err := syncjob.LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, filepath.Join(src.dir, "state.db"))
	opts := syncjob.Options{Client: sc, TargetClient: dc, Counter: ctr, Store: st}

	sum, err := syncjob.Run(ctx, job, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Upserted != 12 || ts.Rejected != 0 {
		t.Fatalf("first run: %+v", ts)
	}
	got, err := dc.Get(ctx, "incident", dataverse.ByKey("ticketnumber", "CAS-0003"), "title", "_customerid_value", "incidentid")
	if err != nil {
		t.Fatal(err)
	}
	if got.String("title") != "Case 3" || got.String("_customerid_value") != dstAcc {
		t.Fatalf("target case: %v", got)
	}

	// Re-running without changes writes nothing.
	sum, err = syncjob.Run(ctx, job, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Read != 0 {
		t.Fatalf("idle run: %+v", ts)
	}

	mutateIncidents(t, sc, []int{1, 2}, []int{3}, 0)
	sum, err = syncjob.Run(ctx, job, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Upserted != 2 || ts.Deleted != 1 {
		t.Fatalf("incremental run: %+v", ts)
	}
	if _, err := dc.Get(ctx, "incident", dataverse.ByKey("ticketnumber", "CAS-0003")); !dataverse.IsNotFound(err) {
		t.Fatalf("deleted case still in the target: %v", err)
	}
	got, err = dc.Get(ctx, "incident", dataverse.ByKey("ticketnumber", "CAS-0001"), "title")
	if err != nil || got.String("title") != "changed "+incidentID(1) {
		t.Fatalf("updated case: %v %v", got, err)
	}
	n := 0
	for _, err := range dc.Records(ctx, "incident", dataverse.Query{Select: []string{"incidentid"}}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 11 {
		t.Fatalf("target holds %d cases, want 11", n)
	}
}
