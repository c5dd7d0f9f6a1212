package dataverse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/dvsync/dvsync/dataverse/batchwire"
)

// ActionBatchOptions configure InvokeActions. The zero value sends up to
// 1,000 plain calls per $batch.
type ActionBatchOptions struct {
	// Idempotent: see ActionOptions. It also lets a call whose operation
	// inside the batch answered 502, 503 or 504 be sent again; without it
	// only throttled operations, which never ran, are.
	Idempotent bool
	// BatchSize is the number of calls per $batch request; default and
	// cap 1,000, the documented limit of requests in one batch.
	BatchSize int
}

// InvokeActions calls the unbound action name once for each element of
// params (each the JSON body of one call), in $batch requests of
// o.BatchSize calls, and returns each call's outcome: errs[i] is nil when
// params[i]'s call succeeded and its own failure otherwise, so one refused
// call rejects only itself.
//
// How Dataverse runs an action inside a batch
// (execute-batch-operations-using-web-api.md, powerapps-docs
// developer/data-platform/webapi): a batch holds up to 1,000 requests, run
// in order, each answered in order in the multipart response; a batch is
// ExecuteMultiple, every request its own transaction. The calls go as
// independent requests, not a change set: a change set is one transaction
// whose failing request rolls back every other one (and is answered with
// that failure alone). Without Prefer: odata.continue-on-error the batch
// stops at the first failing request and answers with its error, so the
// header is always sent and every call gets its own answer: 204 No Content
// for an action that returns nothing (CloseIncident), or the
// {"error":{"code","message"}} payload of its refusal.
//
// Retries are the client's one policy: the $batch request is re-sent as
// any request is (after 5xx and dropped connections only when Idempotent),
// and calls answered as throttled inside it (and, when Idempotent,
// unavailable) are sent again in a further batch, at most
// ClientOptions.MaxRetries times, after the Retry-After they carry. A call
// still failing then keeps that failure.
//
// A $batch request that fails as a whole puts its failure on every call it
// carried. When Classify says that failure stops a run, InvokeActions
// stops there too: the calls not sent get the same error, and it is also
// returned as err. o may be nil.
func (c *Client) InvokeActions(ctx context.Context, name string, params []any, o *ActionBatchOptions) (errs []error, err error) {
	if !actionName.MatchString(name) {
		return nil, fmt.Errorf("dataverse: %q is not an action name", name)
	}
	var opts ActionBatchOptions
	if o != nil {
		opts = *o
	}
	if opts.BatchSize <= 0 || opts.BatchSize > batchwire.MaxRequests {
		opts.BatchSize = batchwire.MaxRequests
	}
	errs = make([]error, len(params))
	bodies := make([][]byte, len(params))
	var todo []int
	for i, p := range params {
		b, err := jsonBody(p)
		if err != nil {
			errs[i] = fmt.Errorf("dataverse: encoding %s parameters: %w", name, err)
			continue
		}
		bodies[i] = b
		todo = append(todo, i)
	}
	for start := 0; start < len(todo); start += opts.BatchSize {
		chunk := todo[start:min(start+opts.BatchSize, len(todo))]
		if err := c.actionBatch(ctx, name, bodies, chunk, opts, errs); err != nil {
			for _, i := range todo[start:] {
				if errs[i] == nil {
					errs[i] = err
				}
			}
			return errs, err
		}
	}
	return errs, nil
}

// actionBatch sends the calls which (indexes into bodies) as one $batch,
// and those answered as throttled or unavailable again, and sets errs. It
// returns an error only when the batch failed as a whole in a way that
// stops a run.
func (c *Client) actionBatch(ctx context.Context, name string, bodies [][]byte, which []int, o ActionBatchOptions, errs []error) error {
	for attempt := 0; len(which) > 0; attempt++ {
		resps, err := c.sendActionBatch(ctx, name, bodies, which, o.Idempotent)
		if err != nil {
			for _, i := range which {
				errs[i] = err
			}
			if Classify(err).StopsRun() {
				return err
			}
			return nil
		}
		var again []int
		var wait time.Duration
		for k, i := range which {
			r := resps[k]
			if r.StatusCode < 400 {
				errs[i] = nil
				continue
			}
			e := errorFromParts(r.StatusCode, r.Header.HTTP(), r.Body)
			e.Method, e.Path = http.MethodPost, c.root.EscapedPath()+name
			errs[i] = e
			if IsThrottled(e) || (o.Idempotent && IsTransient(e)) {
				again = append(again, i)
				wait = max(wait, e.RetryAfter)
			}
		}
		if len(again) == 0 || attempt >= c.opts.MaxRetries {
			return nil
		}
		if wait > 0 {
			if err := sleepCtx(ctx, wait); err != nil {
				for _, i := range again {
					errs[i] = err
				}
				return err
			}
		}
		which = again
	}
	return nil
}

// sendActionBatch sends one $batch of independent calls and returns the
// answers in the calls' order.
func (c *Client) sendActionBatch(ctx context.Context, name string, bodies [][]byte, which []int, idempotent bool) ([]batchwire.Response, error) {
	url := c.root.EscapedPath() + name
	parts := make([]batchwire.Part, len(which))
	for k, i := range which {
		parts[k] = batchwire.Part{Request: &batchwire.Request{Method: http.MethodPost, URL: url,
			Header: batchwire.Header{{Name: "Content-Type", Value: "application/json"}}, Body: bodies[i]}}
	}
	boundary := batchwire.NewBoundary("batch")
	var buf bytes.Buffer
	if err := batchwire.WriteRequest(&buf, boundary, parts); err != nil {
		return nil, err
	}
	h := http.Header{"Content-Type": {batchwire.RequestContentType(boundary)}, "Prefer": {"odata.continue-on-error"}}
	r := request{method: http.MethodPost, path: "$batch", header: h, body: buf.Bytes(), retrySafe: idempotent}
	for attempt := 0; ; attempt++ {
		resps, err := c.readActionBatch(ctx, r, len(which))
		// A response cut off after its status line: go-retryablehttp saw a
		// 200 and will not re-send; an idempotent batch may be (as doJSON
		// does for its bodies), the calls it ran meeting their own effect.
		if err == nil || !isBrokenBody(err) || !idempotent || ctx.Err() != nil || attempt >= maxBodyRetries {
			return resps, err
		}
	}
}

func (c *Client) readActionBatch(ctx context.Context, r request, n int) ([]batchwire.Response, error) {
	resp, _, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &bodyError{method: r.method, err: err}
	}
	parts, err := batchwire.ReadResponse(bytes.NewReader(raw), resp.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("dataverse: reading the $batch response: %w", err)
	}
	flat := batchwire.Flatten(parts)
	if len(flat) != n {
		return nil, fmt.Errorf("dataverse: $batch answered %d of %d calls", len(flat), n)
	}
	return flat, nil
}
