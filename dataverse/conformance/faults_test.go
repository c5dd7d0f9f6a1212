package conformance_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

// faultRecords is the size of the fault runs: 3,000 by default to keep the
// package fast; DVSYNC_FAULT_RECORDS=100000 runs the full proof.
func faultRecords(t *testing.T) int {
	if v := os.Getenv("DVSYNC_FAULT_RECORDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("DVSYNC_FAULT_RECORDS=%q", v)
		}
		return n
	}
	return 3000
}

// faultyServer is the reference server with throttling (a scaled-down
// service protection profile) and injected faults: 503s and 500s that were
// not applied, connections reset after the write committed, slow answers.
func faultyServer(t *testing.T, seed uint64) *dataverse.Client {
	t.Helper()
	faults, err := refserver.ParseFaults(fmt.Sprintf("seed=%d,503=0.03,500=0.02,reset=0.03,slow=0.02:50ms", seed))
	if err != nil {
		t.Fatal(err)
	}
	limits, err := refserver.ParseLimits("requests=40/2s,concurrent=6")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := refserver.New(refserver.Options{Token: "fault-token", Faults: faults, Limits: limits, DOPHint: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("fault-token"), &dataverse.ClientOptions{
		Limiter:      dataverse.NewLimiter(dataverse.LimiterOptions{}),
		RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 200 * time.Millisecond,
		MaxRetries: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readBack reads every account with 4 partitions under the same faults
// and checks the stored set is exactly want (accountnumber → name).
func readBack(t *testing.T, c *dataverse.Client, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	q := dataverse.Query{Select: []string{"name", "accountnumber"}, PageSize: 500}
	for rec, err := range c.RecordsPartitioned(context.Background(), "account", q, dataverse.PartitionOptions{Partitions: 4}) {
		if err != nil {
			t.Fatal(err)
		}
		k := rec.String("accountnumber")
		if _, dup := got[k]; dup {
			t.Fatalf("account %s read twice", k)
		}
		got[k] = rec.String("name")
	}
	if len(got) != len(want) {
		t.Fatalf("read back %d accounts, want %d", len(got), len(want))
	}
	for k, name := range want {
		if got[k] != name {
			t.Fatalf("account %s: stored %q, want %q", k, got[k], name)
		}
	}
}

func TestFaultsUpsertEveryRecordExactlyOnce(t *testing.T) {
	for _, bulk := range []bool{true, false} {
		t.Run(map[bool]string{true: "UpsertMultiple", false: "$batch"}[bulk], func(t *testing.T) {
			n := faultRecords(t)
			c := faultyServer(t, 7)
			want := map[string]string{}
			in := func(yield func(dataverse.Item) bool) {
				for i := range n {
					k := fmt.Sprintf("F%07d", i)
					want[k] = "Account " + k
					if !yield(dataverse.Item{Ref: int64(i), Key: dataverse.ByKey("accountnumber", k), Record: dataverse.Record{"name": "Account " + k}}) {
						return
					}
				}
			}
			outcomes := map[dataverse.Outcome]int{}
			err := c.WriteAll(context.Background(), "account", in, dataverse.BatchOptions{Mode: dataverse.ModeUpsert, DisableBulk: !bulk, BatchSize: 100}, func(r dataverse.Result) {
				outcomes[r.Outcome]++
				if r.Err != nil {
					t.Errorf("record %d rejected: %v", r.Ref, r.Err)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if outcomes[dataverse.OutcomeRejected] != 0 || outcomes[dataverse.OutcomeWritten]+outcomes[dataverse.OutcomeCreated]+outcomes[dataverse.OutcomeUpdated] != n {
				t.Fatalf("outcomes %v for %d records", outcomes, n)
			}
			s := c.Limiter().Stats()
			t.Logf("%d records; limiter: %d throttled, %d decreases, peak %d in flight", n, s.Throttled, s.Decreases, s.PeakInFlight)
			readBack(t, c, want)
		})
	}
}

func TestFaultsCreateNeverDuplicates(t *testing.T) {
	n := faultRecords(t) / 3
	c := faultyServer(t, 11)
	want := map[string]string{}
	in := func(yield func(dataverse.Item) bool) {
		for i := range n {
			k := fmt.Sprintf("C%07d", i)
			want[k] = "Created " + k
			if !yield(dataverse.Item{Ref: int64(i), Record: dataverse.Record{"name": "Created " + k, "accountnumber": k}}) {
				return
			}
		}
	}
	created := 0
	err := c.WriteAll(context.Background(), "account", in, dataverse.BatchOptions{Mode: dataverse.ModeCreate}, func(r dataverse.Result) {
		if r.Outcome == dataverse.OutcomeCreated {
			created++
		} else {
			t.Errorf("record %d: %s %v", r.Ref, r.Outcome, r.Err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if created != n {
		t.Fatalf("created %d of %d", created, n)
	}
	readBack(t, c, want)
}
