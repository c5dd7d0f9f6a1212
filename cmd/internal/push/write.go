package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/sink"
)

// pushRun accounts for every input record of one push: prepared and sent,
// or rejected with the reason, and counts each result as it comes back.
type pushRun struct {
	prep     *sink.Preparer
	dryRun   bool
	rejects  *rejectsFile
	progress *output.Progress

	mu  sync.Mutex
	sum Summary
	// inflight holds the raw input of records sent, for the rejects file;
	// entries leave as results arrive, so memory is bounded by what is in
	// flight.
	inflight map[int64]json.RawMessage
	readErr  error
	// noKey is set when the first record has no key: the push stops
	// before sending anything.
	noKey     *sink.MissingKeyError
	noKeyLine int64
}

// write prepares the records and hands them to send (nothing in a dry
// run), counting what comes back.
func (p *pushRun) write(ctx context.Context, records iter.Seq2[inputRecord, error], send func(iter.Seq[dataverse.Item], func(dataverse.Result)) error) error {
	p.inflight = map[int64]json.RawMessage{}
	start := time.Now()
	var err error
	if p.dryRun {
		for range p.items(ctx, records) {
		}
	} else {
		err = send(p.items(ctx, records), p.report)
	}
	p.progress.Finish()
	p.sum.Seconds = time.Since(start).Seconds()
	if p.sum.Seconds > 0 {
		p.sum.RecordsPerSecond = float64(p.sum.Input) / p.sum.Seconds
	}
	return err
}

func (p *pushRun) reject(line int64, raw json.RawMessage, err error) {
	p.sum.Rejected++
	p.rejects.add(rejection{Line: line, Error: describe(err), Record: raw})
}

func (p *pushRun) items(ctx context.Context, records iter.Seq2[inputRecord, error]) iter.Seq[dataverse.Item] {
	return func(yield func(dataverse.Item) bool) {
		first := true
		for r, err := range records {
			if err != nil {
				p.readErr = err
				return
			}
			p.mu.Lock()
			p.sum.Input++
			if r.err == nil {
				var item dataverse.Item
				item, r.err = p.prep.Prepare(ctx, r.record)
				var mk *sink.MissingKeyError
				if first && errors.As(r.err, &mk) {
					// Every record of the file was meant for another --key
					// or --mode: say so once, before anything is sent.
					p.noKey, p.noKeyLine = mk, r.line
					p.mu.Unlock()
					return
				}
				first = false
				if r.err == nil {
					if p.dryRun {
						p.sum.Valid++
						p.mu.Unlock()
						p.progress.Add(1)
						continue
					}
					item.Ref = r.line
					p.inflight[r.line] = r.raw
					p.mu.Unlock()
					if !yield(item) {
						return
					}
					continue
				}
			}
			p.reject(r.line, r.raw, r.err)
			p.mu.Unlock()
			p.progress.Add(1)
		}
	}
}

func (p *pushRun) report(res dataverse.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	raw := p.inflight[res.Ref]
	delete(p.inflight, res.Ref)
	switch res.Outcome {
	case dataverse.OutcomeCreated:
		p.sum.Created++
	case dataverse.OutcomeUpdated:
		p.sum.Updated++
	case dataverse.OutcomeWritten:
		p.sum.Written++
	case dataverse.OutcomeUnchanged:
		p.sum.Unchanged++
	default:
		p.reject(res.Ref, raw, res.Err)
	}
	p.progress.Add(1)
}

// reconcile checks that every record read is accounted for.
func (s Summary) reconcile() error {
	accounted := s.Created + s.Updated + s.Written + s.Unchanged + s.Rejected
	if s.DryRun {
		accounted = s.Valid + s.Rejected
	}
	if accounted != s.Input {
		return fmt.Errorf("internal error: %d input records but %d accounted for", s.Input, accounted)
	}
	return nil
}
