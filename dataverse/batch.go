package dataverse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/dvsync/dvsync/dataverse/batchwire"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// WriteMode selects what a batched write does with each record.
type WriteMode string

const (
	ModeUpsert WriteMode = "upsert" // create or update by key
	ModeCreate WriteMode = "create" // create only
	ModeUpdate WriteMode = "update" // update only; missing records are rejected
)

// Outcome is what happened to one record of a batched write.
type Outcome string

const (
	OutcomeCreated Outcome = "created"
	OutcomeUpdated Outcome = "updated"
	// OutcomeWritten is an upsert whose create-or-update result Dataverse
	// does not report (UpsertMultiple and 204 upserts).
	OutcomeWritten Outcome = "written"
	// OutcomeUnchanged is a record that already held exactly the values to
	// write, so it was not sent (BatchOptions.SkipUnchanged).
	OutcomeUnchanged Outcome = "unchanged"
	OutcomeRejected  Outcome = "rejected"
)

// Item is one record to write.
type Item struct {
	// Ref is the caller's reference (an input line number), echoed in Result.
	Ref int64
	// Key addresses the record for upserts and updates; for creates an ID
	// key (or the primary key column in Record) sets the new record's ID.
	Key    Key
	Record Record
}

// Result is the outcome of one Item.
type Result struct {
	Ref     int64
	Outcome Outcome
	ID      uuid.UUID // when known
	// Err is the Dataverse error of a rejected record (usually a
	// *ResponseError).
	Err error
}

// BatchOptions configure WriteAll.
type BatchOptions struct {
	Mode WriteMode
	// BatchSize is the starting number of records per request. Defaults:
	// 100 with bulk messages, 10 with $batch, Microsoft's suggested
	// starting points (bulk-operations.md; send-parallel-requests.md).
	// The size halves on timeouts and server errors and grows back by a
	// tenth on success.
	BatchSize int
	// MaxBatchSize caps the adaptive size; default 1,000, the $batch limit.
	MaxBatchSize int
	// DisableBulk forces $batch even where CreateMultiple/UpdateMultiple/
	// UpsertMultiple are available.
	DisableBulk bool
	// Atomic sends each $batch as one change set, so a batch is written
	// entirely or not at all; a failing batch is then split to find the
	// rejected records. Without it every record is its own request with
	// Prefer: odata.continue-on-error.
	Atomic bool
	// Workers is the number of batches in flight; default the limiter's
	// maximum. The client's limiter still caps concurrent requests.
	Workers int
	// RequestTimeout bounds one batch request; a timed-out batch is split
	// and the size reduced. Default 4 minutes.
	RequestTimeout time.Duration
	// SkipUnchanged reads each batch's records first (by primary key or a
	// one-column alternate key) and does not send the ones that already
	// hold the values to write; they are reported as OutcomeUnchanged. It
	// costs one read per 100 records and saves the writes, plug-in runs and
	// audit entries of records that did not change.
	SkipUnchanged bool
}

// adaptiveSize is the batch size shared by all workers of one WriteAll.
type adaptiveSize struct {
	mu       sync.Mutex
	cur, max int
}

func (a *adaptiveSize) get() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

func (a *adaptiveSize) grow() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cur = min(a.max, a.cur+max(1, a.cur/10))
}

func (a *adaptiveSize) shrink(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cur = max(1, min(a.cur, n)/2)
}

// pending is an item being written.
type pending struct {
	Item
	// generatedID: the client chose the ID, so an "already exists" answer
	// can only come from our own earlier attempt.
	generatedID bool
}

// WriteAll writes every item to table, in batches, concurrently, and calls
// report exactly once per item (never concurrently). Rejected records do not
// stop the run; WriteAll returns an error only when the whole run cannot
// continue (cancelled, unauthorised), after reporting every item not yet
// written as rejected with that error, so counts always add up.
//
// Creates are given client-side IDs when the record has none: a create
// whose response was lost can then be retried without duplicating it.
func (c *Client) WriteAll(ctx context.Context, table string, items iter.Seq[Item], o BatchOptions, report func(Result)) error {
	t, err := c.entitySet(ctx, table)
	if err != nil {
		return err
	}
	if o.Mode == "" {
		o.Mode = ModeUpsert
	}
	if o.Mode != ModeUpsert && o.Mode != ModeCreate && o.Mode != ModeUpdate {
		return fmt.Errorf("dataverse: unknown write mode %q", o.Mode)
	}
	bulk := t.BulkMessages && !o.DisableBulk
	if o.MaxBatchSize <= 0 || o.MaxBatchSize > batchwire.MaxRequests {
		o.MaxBatchSize = batchwire.MaxRequests
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 10
		if bulk {
			o.BatchSize = 100
		}
	}
	o.BatchSize = min(o.BatchSize, o.MaxBatchSize)
	if o.Workers <= 0 {
		o.Workers = int(c.limiter.max)
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 4 * time.Minute
	}
	w := &batchWriter{c: c, t: t, o: o, bulk: bulk, size: &adaptiveSize{cur: o.BatchSize, max: o.MaxBatchSize}, report: report}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []pending)
	g, gctx := errgroup.WithContext(ctx)
	for range o.Workers {
		g.Go(func() error {
			for b := range batches {
				if err := w.fatalErr(); err != nil || gctx.Err() != nil {
					if err == nil {
						err = context.Cause(gctx)
					}
					w.rejectAll(b, err)
					continue
				}
				if o.SkipUnchanged {
					var same []Result
					b, same = w.skipUnchanged(gctx, b)
					for _, r := range same {
						w.emit(r)
					}
					if len(b) == 0 {
						continue
					}
				}
				w.write(gctx, b)
			}
			return nil
		})
	}
	var batch []pending
	keys := map[string]bool{}
	flush := func() {
		if len(batch) > 0 {
			batches <- batch
			batch, keys = nil, map[string]bool{}
		}
	}
	for it := range items {
		p := pending{Item: it}
		if o.Mode == ModeCreate {
			p = withClientID(t, p)
		}
		// UpsertMultiple fails on duplicate keys in Targets
		// (bulk-operations.md); start a new batch instead.
		k := itemKey(t, p.Item)
		if k != "" && keys[k] {
			flush()
		}
		if k != "" {
			keys[k] = true
		}
		batch = append(batch, p)
		if len(batch) >= w.size.get() {
			flush()
		}
	}
	flush()
	close(batches)
	_ = g.Wait()
	if err := w.fatalErr(); err != nil {
		return err
	}
	return ctx.Err()
}

func withClientID(t *schema.Table, p pending) pending {
	if p.Key.ID != uuid.Nil {
		return p
	}
	if id, ok := primaryID(t, p.Record); ok {
		p.Key.ID = id
		return p
	}
	p.Key.ID = uuid.New()
	p.generatedID = true
	return p
}

func itemKey(t *schema.Table, it Item) string {
	if it.Key.ID != uuid.Nil {
		return it.Key.ID.String()
	}
	if len(it.Key.Alternate) > 0 {
		s, _ := KeySegment(it.Key)
		return s
	}
	return ""
}

type batchWriter struct {
	c    *Client
	t    *schema.Table
	o    BatchOptions
	bulk bool
	size *adaptiveSize

	reportMu sync.Mutex
	report   func(Result)

	fatalMu sync.Mutex
	fatal   error
}

func (w *batchWriter) emit(r Result) {
	w.reportMu.Lock()
	defer w.reportMu.Unlock()
	w.report(r)
}

func (w *batchWriter) fatalErr() error {
	w.fatalMu.Lock()
	defer w.fatalMu.Unlock()
	return w.fatal
}

func (w *batchWriter) setFatal(err error) {
	w.fatalMu.Lock()
	defer w.fatalMu.Unlock()
	if w.fatal == nil {
		w.fatal = err
	}
}

func (w *batchWriter) rejectAll(b []pending, err error) {
	for _, p := range b {
		w.emit(Result{Ref: p.Ref, Outcome: OutcomeRejected, Err: err})
	}
}

// write sends one batch. When the request as a whole fails, the batch is
// split in halves and each half written on its own, down to single
// records, so one bad record rejects only itself. Timeouts and server
// errors also shrink the batch size for later batches.
func (w *batchWriter) write(ctx context.Context, b []pending) {
	results, err := w.send(ctx, b)
	if err == nil {
		w.size.grow()
		for _, r := range results {
			w.emit(r)
		}
		return
	}
	// A batch that outlived its own RequestTimeout was too big for the
	// time the service allows: shrink and split it. Otherwise the client's
	// classification decides: a failure of the service or the connection
	// that outlasted the client's retries, or one no request can avoid
	// (cancelled, unauthorised), stops the run with every unwritten record
	// reported; only a refusal of the content is split down to the
	// records that cause it.
	tooBig := ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || StatusCode(err) == http.StatusRequestTimeout)
	if !tooBig && Classify(err).StopsRun() || ctx.Err() != nil {
		if ctx.Err() == nil {
			w.setFatal(err)
		}
		w.rejectAll(b, err)
		return
	}
	if tooBig {
		w.size.shrink(len(b))
	}
	if len(b) == 1 {
		w.emit(w.single(ctx, b[0], err))
		return
	}
	mid := len(b) / 2
	w.write(ctx, b[:mid])
	w.write(ctx, b[mid:])
}

// single resolves the outcome of a one-record batch that failed.
//
// A create with an ID we generated may have been applied by an attempt
// whose response was lost; the retry then fails on the duplicate (on the
// primary key or on an alternate key, and the failure's own response may
// be cut short too). The outcome is checked, not guessed: if a record with
// that ID exists, only our write can have created it.
func (w *batchWriter) single(ctx context.Context, p pending, err error) Result {
	if w.o.Mode == ModeCreate && p.generatedID && !IsBadRequest(err) {
		if _, gerr := w.c.Get(ctx, w.t.LogicalName, ByID(p.Key.ID), w.t.PrimaryID); gerr == nil {
			return Result{Ref: p.Ref, Outcome: OutcomeCreated, ID: p.Key.ID}
		}
	}
	return Result{Ref: p.Ref, Outcome: OutcomeRejected, Err: err}
}

// send writes a batch with one request and returns per-record results, or
// an error when the request as a whole failed.
func (w *batchWriter) send(ctx context.Context, b []pending) ([]Result, error) {
	ctx, cancel := context.WithTimeout(ctx, w.o.RequestTimeout)
	defer cancel()
	if w.bulk {
		return w.sendBulk(ctx, b)
	}
	return w.sendBatch(ctx, b, 0)
}

// target builds the bulk-message form of a record: the record plus
// "@odata.type", and the key as the primary key column or, for alternate
// keys, "@odata.id" (bulk-operations.md, "UpsertMultiple").
func (w *batchWriter) target(p pending) (Record, error) {
	rec := make(Record, len(p.Record)+2)
	for k, v := range bodyWithoutKey(w.t, p.Key, p.Record) {
		rec[k] = v
	}
	rec["@odata.type"] = "Microsoft.Dynamics.CRM." + w.t.LogicalName
	switch {
	case p.Key.ID != uuid.Nil:
		rec[w.t.PrimaryID] = p.Key.ID.String()
	case len(p.Key.Alternate) > 0:
		path, err := recordPath(w.t, p.Key)
		if err != nil {
			return nil, err
		}
		rec["@odata.id"] = path
	default:
		if w.o.Mode != ModeCreate {
			return nil, errors.New("dataverse: record has no key")
		}
	}
	return rec, nil
}

func (w *batchWriter) sendBulk(ctx context.Context, b []pending) ([]Result, error) {
	message := map[WriteMode]string{ModeCreate: "CreateMultiple", ModeUpdate: "UpdateMultiple", ModeUpsert: "UpsertMultiple"}[w.o.Mode]
	targets := make([]Record, 0, len(b))
	var results []Result
	var ok []pending
	for _, p := range b {
		rec, err := w.target(p)
		if err != nil {
			results = append(results, Result{Ref: p.Ref, Outcome: OutcomeRejected, Err: err})
			continue
		}
		targets = append(targets, rec)
		ok = append(ok, p)
	}
	if len(ok) == 0 {
		return results, nil
	}
	body, err := jsonBody(map[string]any{"Targets": targets})
	if err != nil {
		return nil, err
	}
	// Every target has a key (creates get client IDs), so the message is
	// idempotent and safe to resend.
	var out struct {
		IDs []string `json:"Ids"`
	}
	_, err = w.c.doJSON(ctx, request{method: http.MethodPost, path: w.t.EntitySetName + "/Microsoft.Dynamics.CRM." + message, body: body, retrySafe: true}, &out)
	if err != nil {
		return nil, err
	}
	outcome := map[WriteMode]Outcome{ModeCreate: OutcomeCreated, ModeUpdate: OutcomeUpdated, ModeUpsert: OutcomeWritten}[w.o.Mode]
	for i, p := range ok {
		id := p.Key.ID
		if id == uuid.Nil && i < len(out.IDs) {
			id, _ = uuid.Parse(out.IDs[i])
		}
		results = append(results, Result{Ref: p.Ref, Outcome: outcome, ID: id})
	}
	return results, nil
}

func (w *batchWriter) sendBatch(ctx context.Context, b []pending, attempt int) ([]Result, error) {
	reqs := make([]batchwire.Request, 0, len(b))
	var results []Result
	var ok []pending
	for _, p := range b {
		r, err := w.batchRequest(p)
		if err != nil {
			results = append(results, Result{Ref: p.Ref, Outcome: OutcomeRejected, Err: err})
			continue
		}
		reqs = append(reqs, r)
		ok = append(ok, p)
	}
	if len(ok) == 0 {
		return results, nil
	}
	var parts []batchwire.Part
	if w.o.Atomic {
		for i := range reqs {
			reqs[i].ContentID = strconv.Itoa(i + 1)
		}
		parts = []batchwire.Part{{ChangeSet: reqs}}
	} else {
		for i := range reqs {
			parts = append(parts, batchwire.Part{Request: &reqs[i]})
		}
	}
	boundary := batchwire.NewBoundary("batch")
	var buf bytes.Buffer
	if err := batchwire.WriteRequest(&buf, boundary, parts); err != nil {
		return nil, err
	}
	h := http.Header{"Content-Type": {batchwire.RequestContentType(boundary)}}
	if !w.o.Atomic {
		// Without it Dataverse stops at the first failure and answers with
		// that failure alone (execute-batch-operations-using-web-api.md,
		// "Handling errors").
		h.Set("Prefer", "odata.continue-on-error")
	}
	resp, _, err := w.c.do(ctx, request{method: http.MethodPost, path: "$batch", header: h, body: buf.Bytes(), retrySafe: true})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rparts, err := batchwire.ReadResponse(resp.Body, resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	flat := batchwire.Flatten(rparts)
	if w.o.Atomic && len(flat) == 1 && flat[0].StatusCode >= 400 && len(ok) > 1 {
		// A failed change set answers with the failing operation only.
		return nil, partError(flat[0])
	}
	if len(flat) != len(ok) {
		return nil, fmt.Errorf("dataverse: $batch answered %d of %d operations", len(flat), len(ok))
	}
	var retry []pending
	var retryErr error
	for i, r := range flat {
		p := ok[i]
		if r.StatusCode >= 400 {
			perr := partError(r)
			if IsTransient(perr) {
				// A throttled or unavailable operation inside a batch was not
				// applied; send it again rather than reject it.
				retry = append(retry, p)
				retryErr = perr
				continue
			}
			results = append(results, w.single(ctx, p, perr))
			continue
		}
		results = append(results, w.partResult(p, r))
	}
	if len(retry) > 0 {
		if attempt >= w.c.opts.MaxRetries {
			for _, p := range retry {
				results = append(results, Result{Ref: p.Ref, Outcome: OutcomeRejected, Err: retryErr})
			}
			return results, nil
		}
		if d := errorRetryAfter(retryErr); d > 0 {
			if err := sleepCtx(ctx, d); err != nil {
				return nil, err
			}
		}
		more, err := w.sendBatch(ctx, retry, attempt+1)
		if err != nil {
			return nil, err
		}
		results = append(results, more...)
	}
	return results, nil
}

func errorRetryAfter(err error) time.Duration {
	if re, ok := asResponseError(err); ok {
		return re.RetryAfter
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func partError(r batchwire.Response) error {
	h := r.Header.HTTP()
	e := errorFromParts(r.StatusCode, h, r.Body)
	e.Method, e.Path = "$batch", "operation"
	return e
}

func (w *batchWriter) partResult(p pending, r batchwire.Response) Result {
	id := p.Key.ID
	if v := r.Header.Get("OData-EntityId"); v != "" {
		if got, err := idFromEntityID(v); err == nil {
			id = got
		}
	}
	out := OutcomeWritten
	switch {
	case w.o.Mode == ModeCreate:
		out = OutcomeCreated
	case w.o.Mode == ModeUpdate:
		out = OutcomeUpdated
	case r.StatusCode == http.StatusCreated:
		out = OutcomeCreated
	case r.StatusCode == http.StatusOK:
		out = OutcomeUpdated
	}
	return Result{Ref: p.Ref, Outcome: out, ID: id}
}

// batchRequest is the $batch operation for one record.
func (w *batchWriter) batchRequest(p pending) (batchwire.Request, error) {
	root := w.c.root.EscapedPath()
	h := batchwire.Header{{Name: "Content-Type", Value: "application/json; type=entry"}}
	var method, path string
	var body Record
	switch w.o.Mode {
	case ModeCreate:
		method, path = http.MethodPost, w.t.EntitySetName
		body = make(Record, len(p.Record)+1)
		for k, v := range p.Record {
			body[k] = v
		}
		if p.Key.ID != uuid.Nil {
			body[w.t.PrimaryID] = p.Key.ID.String()
		}
	case ModeUpdate, ModeUpsert:
		rp, err := recordPath(w.t, p.Key)
		if err != nil {
			return batchwire.Request{}, err
		}
		method, path, body = http.MethodPatch, rp, bodyWithoutKey(w.t, p.Key, p.Record)
		if w.o.Mode == ModeUpdate {
			h = append(h, batchwire.Field{Name: "If-Match", Value: "*"})
		}
	}
	data, err := jsonBody(body)
	if err != nil {
		return batchwire.Request{}, fmt.Errorf("dataverse: encoding record: %w", err)
	}
	return batchwire.Request{Method: method, URL: root + path, Header: h, Body: data}, nil
}
