package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/dvsync/dvsync/dataverse"
)

// PushRecord is one record of a file to push: its place in the file (a
// line or row number), its text for a rejects file, and the decoded record
// or why it could not be decoded.
type PushRecord struct {
	Line   int64
	Raw    json.RawMessage
	Record dataverse.Record
	Err    error
}

// PushOptions configure Push. The zero value upserts with the client's
// defaults.
type PushOptions struct {
	Batch dataverse.BatchOptions
	// DryRun prepares every record and writes none.
	DryRun bool
	// Rejected receives each record that is not written, with the reason;
	// Done is called once for every record accounted for (progress). Calls
	// never overlap.
	Rejected func(r PushRecord, err error)
	Done     func()
}

// PushCounts account for every record read: Input is Created + Updated +
// Written + Unchanged + Rejected, or Valid + Rejected in a dry run.
type PushCounts struct {
	Input, Created, Updated, Written, Unchanged, Rejected, Valid int64
}

// Accounted reports whether every record read has an outcome.
func (c PushCounts) Accounted(dryRun bool) bool {
	if dryRun {
		return c.Valid+c.Rejected == c.Input
	}
	return c.Created+c.Updated+c.Written+c.Unchanged+c.Rejected == c.Input
}

// ReadError is the input breaking off: the records before it were pushed
// and counted.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Push writes records (as `dvsync pull` wrote them, or by hand) to p's
// table in batches, each prepared by p, and accounts for every one: a
// record that cannot be prepared, or that Dataverse refuses, is rejected
// with the reason and the push goes on.
//
// When the first record has no key, every record of the file was meant
// for another key or mode: Push returns its *MissingKeyError (Line set)
// before anything is sent, rather than reject them one by one. A
// *ReadError means the input broke off; any other error stopped the
// writes (dataverse.Classify).
func (s *Sink) Push(ctx context.Context, p *Preparer, records iter.Seq2[PushRecord, error], o PushOptions) (PushCounts, error) {
	var (
		mu     sync.Mutex
		n      PushCounts
		stop   error
		sent   = map[int64]json.RawMessage{} // raw text of records in flight, for Rejected
		reject = func(r PushRecord, err error) {
			n.Rejected++
			if o.Rejected != nil {
				o.Rejected(r, err)
			}
		}
		done = func() {
			if o.Done != nil {
				o.Done()
			}
		}
	)
	items := func(yield func(dataverse.Item) bool) {
		first := true
		for r, err := range records {
			if err != nil {
				stop = &ReadError{Err: err}
				return
			}
			mu.Lock()
			n.Input++
			if r.Err == nil {
				var item dataverse.Item
				item, r.Err = p.Prepare(ctx, r.Record)
				var mk *MissingKeyError
				if first && errors.As(r.Err, &mk) {
					mk.Line = r.Line
					stop = mk
					mu.Unlock()
					return
				}
				first = false
				if r.Err == nil && o.DryRun {
					n.Valid++
					mu.Unlock()
					done()
					continue
				}
				if r.Err == nil {
					item.Ref = r.Line
					sent[r.Line] = r.Raw
					mu.Unlock()
					if !yield(item) {
						return
					}
					continue
				}
			}
			reject(r, r.Err)
			mu.Unlock()
			done()
		}
	}
	report := func(res dataverse.Result) {
		mu.Lock()
		defer mu.Unlock()
		raw := sent[res.Ref]
		delete(sent, res.Ref)
		switch res.Outcome {
		case dataverse.OutcomeCreated:
			n.Created++
		case dataverse.OutcomeUpdated:
			n.Updated++
		case dataverse.OutcomeWritten:
			n.Written++
		case dataverse.OutcomeUnchanged:
			n.Unchanged++
		default:
			reject(PushRecord{Line: res.Ref, Raw: raw}, res.Err)
		}
		done()
	}
	var err error
	if o.DryRun {
		for range items {
		}
	} else {
		err = s.WriteItems(ctx, p.t.LogicalName, items, o.Batch, report)
	}
	if stop != nil {
		return n, stop
	}
	if err == nil && !n.Accounted(o.DryRun) {
		err = fmt.Errorf("internal error: %d records read but %+v accounted for", n.Input, n)
	}
	return n, err
}
