package dataverse

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
)

// Change is one row of a change-tracking read: a new or updated record in
// full, or the ID of a deleted one.
type Change struct {
	Record  Record
	Deleted bool
	// ID is the deleted record's ID (from "id"), or the record's primary key.
	ID uuid.UUID
}

// TrackResult is the end state of a tracked read.
type TrackResult struct {
	// DeltaLink resumes from this point; persist it and pass it to the next
	// TrackChanges.
	DeltaLink string
	// Full is true when every current row was returned (first read, or the
	// previous delta link had expired). Rows the caller holds that were not
	// returned by a full read have been deleted.
	Full bool
}

// TrackChanges reads the changes to table since deltaLink, or all rows with
// a new delta link when deltaLink is empty, calling fn for each change in
// order. When the server reports the delta token as expired (older than
// ExpireChangeTrackingInDays, 7 days by default) it falls back to a full
// read and says so in TrackResult.Full.
//
// Only Select may be set on q: Dataverse rejects $filter, $orderby, $expand
// and $top with odata.track-changes.
// Source: powerapps-docs developer/data-platform/use-change-tracking-synchronize-data-external-systems.md.
func (c *Client) TrackChanges(ctx context.Context, table string, q Query, deltaLink string, fn func(Change) error) (TrackResult, error) {
	if !q.Filter.IsZero() || len(q.OrderBy) > 0 || len(q.Expand) > 0 || q.Top > 0 {
		return TrackResult{}, errors.New("dataverse: change tracking supports only $select; $filter, $orderby, $expand and $top aren't supported when Change Tracking is enabled")
	}
	t, err := c.entitySet(ctx, table)
	if err != nil {
		return TrackResult{}, err
	}
	prefer := preferences(Query{Annotations: q.Annotations, PageSize: q.PageSize}, c.opts.PageSize, true)
	run := func(p *Pager) (string, int, error) {
		defer p.Close()
		n := 0
		for p.Next() {
			n++
			ch := toChange(t.PrimaryID, p.Record())
			if err := fn(ch); err != nil {
				return "", n, err
			}
		}
		if err := p.Err(); err != nil {
			return "", n, err
		}
		if p.DeltaLink() == "" {
			return "", n, errors.New("dataverse: tracked read ended without @odata.deltaLink; is change tracking enabled for " + t.LogicalName + "?")
		}
		return p.DeltaLink(), n, nil
	}
	if deltaLink != "" {
		link, n, err := run(c.newLinkPager(ctx, deltaLink, prefer))
		if err == nil {
			return TrackResult{DeltaLink: link}, nil
		}
		// Fall back only when nothing was delivered yet: the expiry error is
		// the answer to the first page.
		if !IsDeltaTokenExpired(err) || n > 0 {
			return TrackResult{}, err
		}
	}
	qs, err := Query{Select: q.Select}.Encode()
	if err != nil {
		return TrackResult{}, err
	}
	p := &Pager{ctx: ctx, c: c, prefer: prefer, pending: request{method: "GET", path: t.EntitySetName, query: qs}}
	link, _, err := run(p)
	if err != nil {
		return TrackResult{}, err
	}
	return TrackResult{DeltaLink: link, Full: true}, nil
}

func toChange(pk string, r Record) Change {
	ctxURL := r.String("@odata.context")
	if strings.Contains(ctxURL, "$deletedEntity") || (r.String("reason") == "deleted" && r.String("id") != "" && r.String(pk) == "") {
		id, _ := uuid.Parse(r.String("id"))
		return Change{Record: r, Deleted: true, ID: id}
	}
	id, _ := uuid.Parse(r.String(pk))
	return Change{Record: r, ID: id}
}
