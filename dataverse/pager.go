package dataverse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
)

// Pager reads a collection page by page, decoding each page as a token
// stream: only one record is held at a time, so a 5,000-record page of wide
// rows costs one row of memory, not one page. It follows @odata.nextLink
// unmodified, sending the same Prefer header on every page, as
// page-results.md requires.
//
//	p := client.NewPager(ctx, "incidents", q)
//	defer p.Close()
//	for p.Next() { use(p.Record()) }
//	if err := p.Err(); err != nil { … }
type Pager struct {
	ctx    context.Context
	c      *Client
	prefer string
	// pending is the request for the next page; empty when none remains.
	pending request

	body io.ReadCloser
	dec  *json.Decoder
	// inValue: the decoder is inside the "value" array.
	inValue bool
	// pageURL and pageRead let a page broken mid-stream be re-read from the
	// start, skipping records already returned.
	pageReq  request
	pageRead int
	skip     int

	rec Record
	// raw: records are kept as the server's JSON text (RawRecord) instead
	// of being decoded into maps, for callers that only pass them on.
	raw       bool
	rawRec    json.RawMessage
	err       error
	done      bool
	nextLink  string
	deltaLink string
	count     int64
	hasCount  bool
	// countLimited is the page's totalrecordcountlimitexceeded annotation:
	// the count stopped at the service's limit.
	countLimited    bool
	hasCountLimited bool
	pages           int
	records         int64
	retries         int
}

// preferences builds the Prefer header value.
func preferences(q Query, pageSize int, track bool) string {
	var prefs []string
	if track {
		// Change tracking: Prefer: odata.track-changes
		// (use-change-tracking-synchronize-data-external-systems.md).
		prefs = append(prefs, "odata.track-changes")
	}
	if q.Top == 0 {
		if q.PageSize > 0 && q.PageSize < pageSize {
			pageSize = q.PageSize
		}
		prefs = append(prefs, "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	if q.Annotations != "" {
		prefs = append(prefs, `odata.include-annotations="`+strings.ReplaceAll(q.Annotations, `"`, "")+`"`)
	}
	return strings.Join(prefs, ",")
}

// NewPager starts a read of table (logical or entity set name).
// Nothing is sent until the first Next.
func (c *Client) NewPager(ctx context.Context, table string, q Query) *Pager {
	p := &Pager{ctx: ctx, c: c}
	t, err := c.entitySet(ctx, table)
	if err != nil {
		p.err, p.done = err, true
		return p
	}
	qs, err := q.Encode()
	if err != nil {
		p.err, p.done = err, true
		return p
	}
	p.prefer = preferences(q, c.opts.PageSize, false)
	p.pending = request{method: http.MethodGet, path: t.EntitySetName, query: qs}
	return p
}

// newLinkPager continues from a server link (nextLink or deltaLink).
func (c *Client) newLinkPager(ctx context.Context, link, prefer string) *Pager {
	return &Pager{ctx: ctx, c: c, prefer: prefer, pending: request{method: http.MethodGet, path: link}}
}

// maxPageRereads bounds how often one page is re-read after its body broke.
const maxPageRereads = 3

// Next advances to the next record. It returns false at the end or on error.
func (p *Pager) Next() bool {
	for !p.done {
		if p.dec == nil {
			if p.pending.path == "" {
				p.done = true
				return false
			}
			if err := p.open(p.pending); err != nil {
				p.fail(err)
				return false
			}
			p.pending = request{}
		}
		ok, err := p.step()
		if err != nil {
			var re *ResponseError
			if p.ctx.Err() == nil && !errors.As(err, &re) && p.retries < maxPageRereads {
				// The connection broke inside a page. The page request is a
				// GET of a keyset-paged link, so reading it again returns the
				// same records; skip the ones already returned.
				p.retries++
				p.closeBody()
				p.skip = p.pageRead
				if err := p.open(p.pageReq); err != nil {
					p.fail(err)
					return false
				}
				continue
			}
			p.fail(err)
			return false
		}
		if ok {
			return true
		}
	}
	return false
}

func (p *Pager) open(r request) error {
	r.header = http.Header{"Prefer": {p.prefer}}
	resp, _, err := p.c.do(p.ctx, r)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		resp.Body.Close()
		return fmt.Errorf("dataverse: collection read returned %d", resp.StatusCode)
	}
	p.body = resp.Body
	p.dec = newDecoder(resp.Body)
	p.pageReq = r
	p.pageRead = 0
	p.inValue = false
	p.nextLink = ""
	p.pages++
	tok, err := p.dec.Token()
	if err != nil {
		return fmt.Errorf("dataverse: reading page: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("dataverse: page is not a JSON object")
	}
	return nil
}

// step reads until a record is available (true), or the page ended and
// the next one is queued (false, nil).
func (p *Pager) step() (bool, error) {
	for {
		if p.inValue {
			if p.dec.More() {
				var r Record
				var raw json.RawMessage
				var err error
				if p.raw {
					err = p.dec.Decode(&raw)
				} else {
					err = p.dec.Decode(&r)
				}
				if err != nil {
					return false, fmt.Errorf("dataverse: decoding record: %w", err)
				}
				p.pageRead++
				if p.skip > 0 {
					p.skip--
					continue
				}
				p.rec, p.rawRec = r, raw
				p.records++
				return true, nil
			}
			if _, err := p.dec.Token(); err != nil { // ']'
				return false, fmt.Errorf("dataverse: reading page: %w", err)
			}
			p.inValue = false
			continue
		}
		tok, err := p.dec.Token()
		if err != nil {
			return false, fmt.Errorf("dataverse: reading page: %w", err)
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			// End of page.
			if p.skip > 0 {
				return false, errors.New("dataverse: page changed while being re-read")
			}
			p.closeBody()
			p.retries = 0
			if p.nextLink != "" {
				p.pending = request{method: http.MethodGet, path: p.nextLink}
			}
			return false, nil
		}
		key, ok := tok.(string)
		if !ok {
			return false, errors.New("dataverse: malformed page")
		}
		switch key {
		case "value":
			tok, err := p.dec.Token()
			if err != nil {
				return false, fmt.Errorf("dataverse: reading page: %w", err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return false, errors.New("dataverse: page value is not an array")
			}
			p.inValue = true
		case "@odata.nextLink":
			if err := p.dec.Decode(&p.nextLink); err != nil {
				return false, err
			}
		case "@odata.deltaLink":
			if err := p.dec.Decode(&p.deltaLink); err != nil {
				return false, err
			}
		case "@odata.count":
			if err := p.dec.Decode(&p.count); err != nil {
				return false, err
			}
			p.hasCount = true
		case "@" + annCountLimitExceeded:
			if err := p.dec.Decode(&p.countLimited); err != nil {
				return false, err
			}
			p.hasCountLimited = true
		default:
			var skip json.RawMessage
			if err := p.dec.Decode(&skip); err != nil {
				return false, err
			}
		}
	}
}

func (p *Pager) fail(err error) {
	if p.err == nil {
		p.err = err
	}
	p.done = true
	p.closeBody()
}

func (p *Pager) closeBody() {
	if p.body != nil {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, p.body, 64<<10)
		p.body.Close()
		p.body = nil
	}
	p.dec = nil
	p.inValue = false
}

// Record returns the current record (nil after SetRaw).
func (p *Pager) Record() Record { return p.rec }

// SetRaw makes the pager keep each record as the JSON text the server sent,
// returned by RawRecord, without decoding it into a map: several times
// cheaper for callers that write records out unchanged. Call it before the
// first Next.
func (p *Pager) SetRaw() { p.raw = true }

// RawRecord returns the current record's JSON text after SetRaw. The slice
// is the caller's to keep.
func (p *Pager) RawRecord() json.RawMessage { return p.rawRec }

// Err returns the error that stopped the pager, if any.
func (p *Pager) Err() error { return p.err }

// Close releases the current response. Safe to call more than once.
func (p *Pager) Close() {
	p.done = true
	p.closeBody()
}

// DeltaLink returns the @odata.deltaLink of a tracked read, available once
// Next has returned false without error.
func (p *Pager) DeltaLink() string { return p.deltaLink }

// Count returns @odata.count when the query asked for it.
func (p *Pager) Count() (int64, bool) { return p.count, p.hasCount }

// CountLimitExceeded reports the page's
// Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded annotation (asked
// for with Query.Annotations): whether more rows match than @odata.count
// says. ok is false when the server sent no such annotation.
func (p *Pager) CountLimitExceeded() (exceeded, ok bool) { return p.countLimited, p.hasCountLimited }

// Pages returns the number of pages requested so far.
func (p *Pager) Pages() int { return p.pages }

// Records streams the rows of table matching q.
//
//	for rec, err := range client.Records(ctx, "incident", q) { … }
//
// Breaking out of the loop stops the read and releases the connection.
func (c *Client) Records(ctx context.Context, table string, q Query) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		p := c.NewPager(ctx, table, q)
		defer p.Close()
		for p.Next() {
			if !yield(p.Record(), nil) {
				return
			}
		}
		if err := p.Err(); err != nil {
			yield(nil, err)
		}
	}
}
