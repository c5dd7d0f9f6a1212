package odoo

import (
	"context"
	"iter"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
)

// StreamOptions shape a streaming read.
type StreamOptions struct {
	Domain  Domain
	Fields  []string // id (and write_date for Changes) are added when missing
	Context Context
	// PageSize overrides the client's page size.
	PageSize int
	// MinPageSize is the floor when pages shrink after failures (default 10).
	MinPageSize int
	// OnPage, if set, is called after each page with its record count.
	// With Parallel > 1 it is called from several goroutines.
	OnPage func(n int)
	// Parallel > 1 splits Stream's id range into that many slices read
	// concurrently (Odoo serves each call in its own worker), still yielding
	// records in id order. Records created after the stream starts are not
	// read. Ignored by Changes, whose order is by write_date.
	Parallel int
}

// Watermark is a position in (write_date, id) order: everything at or
// before it has been read.
type Watermark struct {
	WriteDate time.Time
	ID        int
}

// IsZero reports whether the watermark is unset (read from the start).
func (w Watermark) IsZero() bool { return w.WriteDate.IsZero() && w.ID == 0 }

// Stream reads every record matching the options in id order, one page at
// a time, with keyset paging: each page asks for id > the last id seen,
// ordered by id. Unlike offset paging, records created or deleted while the
// stream runs never shift a page, so no record is skipped or read twice
// (records created behind the cursor are simply not seen).
//
// A page that fails transiently (connection drop, 502 from a killed worker,
// 429) is retried with half the page size, down to MinPageSize, up to the
// client's MaxAttempts in a row.
func (c *Client) Stream(ctx context.Context, model string, o StreamOptions) iter.Seq2[Record, error] {
	if o.Parallel > 1 {
		return c.streamParallel(ctx, model, o)
	}
	return c.streamRange(ctx, model, o, 0, 0)
}

// streamRange streams ids in (after, upTo] (upTo 0 = no upper bound).
func (c *Client) streamRange(ctx context.Context, model string, o StreamOptions, after, upTo int) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		fields := withFields(o.Fields, "id")
		base := o.Domain
		if upTo > 0 {
			base = And(base, Cond("id", Le, upTo))
		}
		lastID := after
		for {
			d := And(base, Cond("id", Gt, lastID))
			page, err := c.page(ctx, model, d, fields, "id asc", &o)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			if len(page) == 0 || len(page) < o.PageSize {
				return
			}
			lastID = page[len(page)-1].ID()
		}
	}
}

// Changes reads the records written after since, in (write_date, id)
// order, with keyset paging on that pair: a page asks for
// write_date > w OR (write_date = w AND id > last id). Record.Watermark of
// the last record yielded is the watermark for the next run.
//
// Odoo stamps write_date with the transaction's start time, so a long
// transaction can commit rows dated before a watermark already taken. Pass
// since minus a safety margin (a few times the longest write transaction)
// and make the consumer idempotent by id; re-reading is cheap, losing a
// change is not. A zero since reads everything.
func (c *Client) Changes(ctx context.Context, model string, since Watermark, o StreamOptions) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		fields := withFields(o.Fields, "id", "write_date")
		cursor := since
		for {
			d := o.Domain
			if !cursor.IsZero() {
				wd := FormatDatetime(cursor.WriteDate)
				d = And(d, Or(
					Cond("write_date", Gt, wd),
					And(Cond("write_date", Eq, wd), Cond("id", Gt, cursor.ID)),
				))
			}
			page, err := c.page(ctx, model, d, fields, "write_date asc, id asc", &o)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			if len(page) == 0 || len(page) < o.PageSize {
				return
			}
			if cursor, err = page[len(page)-1].Watermark(); err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

func withFields(fields []string, required ...string) []string {
	if fields == nil {
		return nil // all fields, which include the required ones
	}
	out := slices.Clone(fields)
	for _, f := range required {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// page reads one page, shrinking it on transient failures. It updates
// o.PageSize so later pages keep the size that worked.
func (c *Client) page(ctx context.Context, model string, d Domain, fields []string, order string, o *StreamOptions) ([]Record, error) {
	if o.PageSize <= 0 {
		o.PageSize = c.opts.PageSize
	}
	if o.MinPageSize <= 0 {
		o.MinPageSize = 10
	}
	q := Query{Domain: d, Fields: fields, Order: order, Context: o.Context}
	for attempt := 1; ; attempt++ {
		q.Limit = o.PageSize
		args, err := q.args()
		if err != nil {
			return nil, err
		}
		var out []Record
		err = c.call(ctx, model, "search_read", nil, args, &out, true, 1)
		if err == nil {
			if o.OnPage != nil {
				o.OnPage(len(out))
			}
			return out, nil
		}
		if !IsTransient(err) || attempt >= c.opts.MaxAttempts {
			return nil, err
		}
		next := max(o.PageSize/2, o.MinPageSize)
		delay := backoff(c.opts.RetryBackoff, attempt)
		c.log.Warn("odoo page failed, retrying smaller", "model", model, "page_size", o.PageSize, "next_page_size", next, "delay", delay, "error", err)
		o.PageSize = next
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
}

type item struct {
	rec Record
	err error
}

// streamParallel reads id slices concurrently and yields them in order:
// slice i is handed over only after slice i-1 is drained, and a slice that
// is ahead blocks once its buffer (one page) is full, so memory stays at
// about Parallel pages whatever the table size.
func (c *Client) streamParallel(ctx context.Context, model string, o StreamOptions) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		q := Query{Domain: o.Domain, Context: o.Context, Limit: 1}
		q.Order = "id asc"
		first, err := c.Search(ctx, model, q)
		if err != nil || len(first) == 0 {
			if err != nil {
				yield(nil, err)
			}
			return
		}
		q.Order = "id desc"
		last, err := c.Search(ctx, model, q)
		if err != nil || len(last) == 0 {
			if err != nil {
				yield(nil, err)
			}
			return
		}
		lo, hi := first[0], last[0]
		n := min(o.Parallel, hi-lo+1)
		if o.PageSize <= 0 {
			o.PageSize = c.opts.PageSize
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		chans := make([]chan item, n)
		for i := range chans {
			chans[i] = make(chan item, o.PageSize)
		}
		sem := make(chan struct{}, o.Parallel)
		go func() {
			width := (hi - lo + 1 + n - 1) / n
			for i := range n {
				after, upTo := lo-1+i*width, min(lo-1+(i+1)*width, hi)
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					for _, ch := range chans[i:] {
						close(ch)
					}
					return
				}
				go func(ch chan item) {
					defer func() { <-sem }()
					defer close(ch)
					opts := o // each slice shrinks its own page size
					for r, err := range c.streamRange(ctx, model, opts, after, upTo) {
						select {
						case ch <- item{r, err}:
						case <-ctx.Done():
							return
						}
						if err != nil {
							return
						}
					}
				}(chans[i])
			}
		}()
		for _, ch := range chans {
			for it := range ch {
				if !yield(it.rec, it.err) || it.err != nil {
					return
				}
			}
			if ctx.Err() != nil {
				yield(nil, ctx.Err())
				return
			}
		}
	}
}

// ModelStream is one model of a concurrent read.
type ModelStream struct {
	Model   string
	Options StreamOptions
	// Since, when set, reads changes after it (Changes) instead of every
	// record (Stream).
	Since *Watermark
}

// StreamModels reads several models concurrently, at most concurrency at a
// time (default 4; Odoo has no published rate limit, so stay modest).
// fn is called from one goroutine per model; calls for the same model are
// sequential and in order. The first error cancels the other readers.
func (c *Client) StreamModels(ctx context.Context, streams []ModelStream, concurrency int, fn func(model string, r Record) error) error {
	if concurrency <= 0 {
		concurrency = 4
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, s := range streams {
		g.Go(func() error {
			seq := c.Stream(ctx, s.Model, s.Options)
			if s.Since != nil {
				seq = c.Changes(ctx, s.Model, *s.Since, s.Options)
			}
			for r, err := range seq {
				if err != nil {
					return err
				}
				if err := fn(s.Model, r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}
