package dataverse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// PartitionBy selects how a partitioned read splits its query.
type PartitionBy string

const (
	// PartitionByKey splits the primary-key (GUID) space into equal ranges.
	PartitionByKey PartitionBy = "key"
	// PartitionByCreatedOn splits the createdon span into equal ranges; use
	// it when keys are sequential GUIDs that cluster in one key range.
	PartitionByCreatedOn PartitionBy = "createdon"
)

// PartitionOptions configure RecordsPartitioned.
type PartitionOptions struct {
	Partitions int
	By         PartitionBy
	// Buffer is the number of records buffered between the readers and the
	// consumer; default 1,000.
	Buffer int
}

// keyBoundaries returns n-1 GUIDs that split the key space into n ranges.
//
// Dataverse compares uniqueidentifier values the SQL Server way, most
// significant byte first from the last group ("…-XXXXXXXXXXXX"), while
// other stores (the reference server) compare the text. Each boundary
// repeats the same byte at the start of the first group and of the last
// group, so the boundaries are increasing under both orders. Consecutive
// ranges [b(i), b(i+1)) therefore never overlap and together cover every
// GUID whatever the server's order, which is what makes the partitioned
// result identical to a sequential read.
func keyBoundaries(n int) []uuid.UUID {
	out := make([]uuid.UUID, 0, n-1)
	for i := 1; i < n; i++ {
		v := byte(i * 256 / n)
		var id uuid.UUID
		id[0] = v
		id[10] = v
		out = append(out, id)
	}
	return out
}

// partitionFilters returns one filter per partition, each ANDed with base.
func (c *Client) partitionFilters(ctx context.Context, t *schema.Table, base Filter, o PartitionOptions) ([]Filter, error) {
	n := o.Partitions
	switch o.By {
	case "", PartitionByKey:
		bs := keyBoundaries(n)
		fs := make([]Filter, n)
		for i := range n {
			var parts []Filter
			if i > 0 {
				parts = append(parts, Ge(t.PrimaryID, bs[i-1]))
			}
			if i < n-1 {
				parts = append(parts, Lt(t.PrimaryID, bs[i]))
			}
			fs[i] = base.And(parts...)
		}
		return fs, nil
	case PartitionByCreatedOn:
		lo, ok, err := c.edgeValue(ctx, t, base, "createdon", false)
		if err != nil {
			return nil, err
		}
		if !ok {
			return []Filter{base}, nil
		}
		hi, _, err := c.edgeValue(ctx, t, base, "createdon", true)
		if err != nil {
			return nil, err
		}
		span := hi.Sub(lo)
		fs := make([]Filter, n)
		for i := range n {
			var parts []Filter
			if i > 0 {
				parts = append(parts, Ge("createdon", lo.Add(span*time.Duration(i)/time.Duration(n))))
			}
			if i < n-1 {
				parts = append(parts, Lt("createdon", lo.Add(span*time.Duration(i+1)/time.Duration(n))))
			}
			f := All(parts...)
			if i == 0 {
				// Rows without createdon belong to the first range.
				f = f.Or(IsNull("createdon"))
			}
			fs[i] = base.And(f)
		}
		return fs, nil
	}
	return nil, fmt.Errorf("dataverse: unknown partitioning %q", o.By)
}

// edgeValue reads the smallest (or largest) non-null value of a date column.
func (c *Client) edgeValue(ctx context.Context, t *schema.Table, base Filter, col string, desc bool) (time.Time, bool, error) {
	q := Query{Select: []string{col}, Filter: base.And(NotNull(col)), OrderBy: []Order{{Column: col, Desc: desc}}, Top: 1}
	qs, err := q.Encode()
	if err != nil {
		return time.Time{}, false, err
	}
	var out struct {
		Value []Record `json:"value"`
	}
	if _, err := c.doJSON(ctx, request{method: http.MethodGet, path: t.EntitySetName, query: qs}, &out); err != nil {
		return time.Time{}, false, err
	}
	if len(out.Value) == 0 {
		return time.Time{}, false, nil
	}
	v, err := time.Parse(time.RFC3339Nano, out.Value[0].String(col))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("dataverse: %s value %q: %w", col, out.Value[0].String(col), err)
	}
	return v, true, nil
}

// RecordsPartitioned reads the rows of table matching q with
// o.Partitions concurrent readers, each over one key (or createdon) range.
// Every row is returned exactly once, the same set a sequential read
// returns; rows arrive in no particular order, so q may not have OrderBy or
// Top. Memory stays bounded by o.Buffer records plus one record per reader.
func (c *Client) RecordsPartitioned(ctx context.Context, table string, q Query, o PartitionOptions) iter.Seq2[Record, error] {
	return partitioned(c, ctx, table, q, o, false, (*Pager).Record)
}

// RawRecordsPartitioned is RecordsPartitioned returning each record as the
// JSON text the server sent (see Pager.SetRaw).
func (c *Client) RawRecordsPartitioned(ctx context.Context, table string, q Query, o PartitionOptions) iter.Seq2[json.RawMessage, error] {
	return partitioned(c, ctx, table, q, o, true, (*Pager).RawRecord)
}

func partitioned[T any](c *Client, ctx context.Context, table string, q Query, o PartitionOptions, raw bool, get func(*Pager) T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if o.Partitions <= 1 {
			p := c.NewPager(ctx, table, q)
			defer p.Close()
			if raw {
				p.SetRaw()
			}
			for p.Next() {
				if !yield(get(p), nil) {
					return
				}
			}
			if err := p.Err(); err != nil {
				yield(zero, err)
			}
			return
		}
		if len(q.OrderBy) > 0 || q.Top > 0 {
			yield(zero, errors.New("dataverse: a partitioned read returns rows in no defined order; it cannot take $orderby or $top"))
			return
		}
		if o.Partitions > 64 {
			o.Partitions = 64
		}
		if o.Buffer <= 0 {
			o.Buffer = 1000
		}
		t, err := c.entitySet(ctx, table)
		if err != nil {
			yield(zero, err)
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		filters, err := c.partitionFilters(ctx, t, q.Filter, o)
		if err != nil {
			yield(zero, err)
			return
		}
		type item struct {
			r   T
			err error
		}
		ch := make(chan item, o.Buffer)
		var wg sync.WaitGroup
		for _, f := range filters {
			pq := q
			pq.Filter = f
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := c.NewPager(ctx, t.EntitySetName, pq)
				defer p.Close()
				if raw {
					p.SetRaw()
				}
				for p.Next() {
					select {
					case ch <- item{r: get(p)}:
					case <-ctx.Done():
						return
					}
				}
				if err := p.Err(); err != nil && ctx.Err() == nil {
					select {
					case ch <- item{err: err}:
					case <-ctx.Done():
					}
				}
			}()
		}
		go func() { wg.Wait(); close(ch) }()
		defer func() {
			cancel()
			for range ch {
			}
		}()
		for it := range ch {
			if it.err != nil {
				yield(zero, it.err)
				return
			}
			if !yield(it.r, nil) {
				return
			}
		}
	}
}

// countLimit is the most @odata.count reports (count-rows.md: "up to
// 5,000 for standard tables, 500 for elastic tables").
const countLimit = 5000

// The count annotations that say whether @odata.count stopped at the
// service's limit (count-rows.md).
const (
	annTotalRecordCount   = "Microsoft.Dynamics.CRM.totalrecordcount"
	annCountLimitExceeded = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
)

// RowCount is what Dataverse can say about the size of a read before it
// starts.
type RowCount struct {
	// N is the number of rows when Exact; with Snapshot, the table's total
	// from RetrieveTotalRecordCount (computed within the past 24 hours);
	// otherwise a lower bound (@odata.count stops at 5,000).
	N        int64
	Exact    bool
	Snapshot bool
}

// Known reports whether N is a row count rather than a lower bound.
func (r RowCount) Known() bool { return r.Exact || r.Snapshot }

// CountRows sizes a read of table with filter for progress totals and
// partitioning, in at most two small requests. $count=true gives the exact
// count up to 5,000; past that, and only without a filter, the
// RetrieveTotalRecordCount function gives the table's snapshot count
// (powerapps-docs developer/data-platform/webapi/query/count-rows.md). A
// server without that function leaves the count a lower bound.
func (c *Client) CountRows(ctx context.Context, table string, filter Filter) (RowCount, error) {
	t, err := c.entitySet(ctx, table)
	if err != nil {
		return RowCount{}, err
	}
	q := Query{Select: []string{t.PrimaryID}, Filter: filter, Count: true, PageSize: 1,
		Annotations: annTotalRecordCount + "," + annCountLimitExceeded}
	p := c.NewPager(ctx, t.EntitySetName, q)
	p.Next()
	n, ok := p.Count()
	limited, saysLimited := p.CountLimitExceeded()
	err = p.Err()
	p.Close()
	if err != nil {
		return RowCount{}, err
	}
	if !ok {
		return RowCount{}, nil
	}
	// The annotation tells a capped count from an exact one (elastic
	// tables stop at 500); without it, only a count under the standard
	// cap is known to be exact.
	if saysLimited && !limited || !saysLimited && n < countLimit {
		return RowCount{N: n, Exact: true}, nil
	}
	if filter.IsZero() {
		if total, ok := c.totalRecordCount(ctx, t.LogicalName); ok && total >= n {
			return RowCount{N: total, Snapshot: true}, nil
		}
	}
	return RowCount{N: n}, nil
}

// totalRecordCount calls RetrieveTotalRecordCount(EntityNames=[table]);
// its answer is {"EntityRecordCountCollection":{"Keys":[…],"Values":[…]}}
// (webapi/reference/retrievetotalrecordcount.md). Any failure means "not
// known": the count only informs progress and partitioning.
func (c *Client) totalRecordCount(ctx context.Context, logical string) (int64, bool) {
	names, _ := json.Marshal([]string{logical})
	var out struct {
		Collection struct {
			Keys   []string `json:"Keys"`
			Values []int64  `json:"Values"`
		} `json:"EntityRecordCountCollection"`
	}
	r := request{method: http.MethodGet, path: "RetrieveTotalRecordCount(EntityNames=@p1)", query: "@p1=" + url.QueryEscape(string(names)), retrySafe: true}
	if _, err := c.doJSON(ctx, r, &out); err != nil {
		return 0, false
	}
	for i, k := range out.Collection.Keys {
		if k == logical && i < len(out.Collection.Values) {
			return out.Collection.Values[i], true
		}
	}
	return 0, false
}

// MaxAutoPartitions caps AutoPartitions: past this many readers a pull is
// bound by the writer, not by page latency.
const MaxAutoPartitions = 16

// AutoPartitions chooses how many concurrent range readers a read of
// count rows should use: one per page up to the server's degree of
// parallelism hint (x-ms-dop-hint, send-parallel-requests.md; 0 when
// unseen, then 4, the hint Microsoft's samples print for small
// environments), capped at MaxAutoPartitions. A read of one page or less
// stays a single request; a count that is only a lower bound (more than
// 5,000 rows) counts as many pages.
func AutoPartitions(count RowCount, pageSize, dopHint int) int {
	if pageSize <= 0 || pageSize > countLimit {
		pageSize = DefaultPageSize
	}
	if dopHint <= 0 {
		dopHint = 4
	}
	n := min(dopHint, MaxAutoPartitions)
	if count.Known() || count.N == 0 {
		pages := (count.N + int64(pageSize) - 1) / int64(pageSize)
		n = int(min(int64(n), max(pages, 1)))
	}
	return n
}

// PageSize is the odata.maxpagesize the client asks for.
func (c *Client) PageSize() int { return c.opts.PageSize }

// DOPHint is the last x-ms-dop-hint the server sent, 0 if none yet.
func (c *Client) DOPHint() int {
	if c.limiter == nil {
		return 0
	}
	return c.limiter.Stats().DOPHint
}
