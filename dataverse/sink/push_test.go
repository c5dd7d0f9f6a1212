package sink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/sink"
)

func pushRecords(lines ...string) iter.Seq2[sink.PushRecord, error] {
	return func(yield func(sink.PushRecord, error) bool) {
		for i, l := range lines {
			r := sink.PushRecord{Line: int64(i + 1), Raw: json.RawMessage(l)}
			r.Err = json.Unmarshal([]byte(l), &r.Record)
			if !yield(r, nil) {
				return
			}
		}
	}
}

// TestPushAccountsForEveryRecord: each record read ends created, updated,
// unchanged or rejected with its text and reason; a first record without
// a key stops the push before anything is sent.
func TestPushAccountsForEveryRecord(t *testing.T) {
	c := refServer(t, "off", nil)
	ctx := context.Background()
	tbl, err := c.Table(ctx, "account")
	if err != nil {
		t.Fatal(err)
	}
	s := sink.New(c, nil)

	_, err = s.Push(ctx, sink.NewPreparer(c, tbl, dataverse.ModeUpsert, nil), pushRecords(`{"name":"no key"}`, `{"name":"nor this"}`), sink.PushOptions{})
	var mk *sink.MissingKeyError
	if !errors.As(err, &mk) || mk.Line != 1 || !mk.Default {
		t.Fatalf("first record without a key: %v", err)
	}
	if n, _ := s.Count(ctx, "account"); n != 0 {
		t.Fatalf("%d accounts written", n)
	}

	var rejected []string
	p := sink.NewPreparer(c, tbl, dataverse.ModeUpsert, []string{"accountnumber"})
	in := []string{`{"accountnumber":"P-1","name":"one"}`, `{"accountnumber":"P-2","name":"two","nosuch":1}`, `{"name":"no key"}`, `{"accountnumber":"P-3","name":"three"}`}
	n, err := s.Push(ctx, p, pushRecords(in...), sink.PushOptions{Batch: dataverse.BatchOptions{SkipUnchanged: true},
		Rejected: func(r sink.PushRecord, err error) { rejected = append(rejected, fmt.Sprintf("%d %s", r.Line, r.Raw)) }})
	if err != nil {
		t.Fatal(err)
	}
	if n.Input != 4 || n.Rejected != 2 || n.Created+n.Written != 2 || !n.Accounted(false) || len(rejected) != 2 || rejected[0] != "2 "+in[1] {
		t.Fatalf("counts %+v, rejected %q", n, rejected)
	}
	n, err = s.Push(ctx, p, pushRecords(in[0], in[3]), sink.PushOptions{Batch: dataverse.BatchOptions{SkipUnchanged: true}})
	if err != nil || n.Unchanged != 2 || !n.Accounted(false) {
		t.Fatalf("again: %+v %v", n, err)
	}
	n, err = s.Push(ctx, p, pushRecords(`{"accountnumber":"P-9","name":"x"}`), sink.PushOptions{DryRun: true})
	if err != nil || n.Valid != 1 || !n.Accounted(true) {
		t.Fatalf("dry run: %+v %v", n, err)
	}
	if c, _ := s.Count(ctx, "account"); c != 2 {
		t.Fatalf("%d accounts, want 2", c)
	}
}
