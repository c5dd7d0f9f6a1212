package dataverse

import (
	"context"
	"net/http"
	"strconv"
)

// Resumable reads: a long read (a 1,000,000-row baseline, a delta of many
// pages) that a job checkpoints after every page, so that a killed process
// continues from the page it was on instead of from the start. Airbyte's
// Dataverse source checkpoints only after the last page; see
// /work/shared/research/sync-compare-scale.md.

// NewTrackPager starts a change-tracking read of table (Prefer:
// odata.track-changes): all current rows followed by an @odata.deltaLink.
// Only q.Select, q.PageSize and q.Annotations apply; Dataverse rejects
// $filter, $orderby, $expand and $top with track-changes
// (use-change-tracking-synchronize-data-external-systems.md).
func (c *Client) NewTrackPager(ctx context.Context, table string, q Query) *Pager {
	p := &Pager{ctx: ctx, c: c}
	t, err := c.entitySet(ctx, table)
	if err != nil {
		p.err, p.done = err, true
		return p
	}
	qs, err := Query{Select: q.Select}.Encode()
	if err != nil {
		p.err, p.done = err, true
		return p
	}
	p.prefer = preferences(Query{Annotations: q.Annotations, PageSize: q.PageSize}, c.opts.PageSize, true)
	p.pending = request{method: http.MethodGet, path: t.EntitySetName, query: qs}
	return p
}

// ResumePager continues a read from a link a Pager handed out: a PageLink
// saved at a checkpoint, an @odata.nextLink, or an @odata.deltaLink. track
// and q (PageSize, Annotations) must be what the original read used, since
// Dataverse wants the same Prefer header on every page (page-results.md).
func (c *Client) ResumePager(ctx context.Context, link string, q Query, track bool) *Pager {
	prefer := preferences(Query{Annotations: q.Annotations, PageSize: q.PageSize}, c.opts.PageSize, track)
	return c.newLinkPager(ctx, link, prefer)
}

// PageLink returns the link that reads again the page the current record
// came from. Saved once every record of the previous pages has been
// applied, it is the checkpoint of a read: resuming there re-reads at most
// one page.
func (p *Pager) PageLink() string {
	if p.pageReq.query == "" {
		return p.pageReq.path
	}
	return p.pageReq.path + "?" + p.pageReq.query
}

// OrganizationSettings are the organization columns a sync job consults.
type OrganizationSettings struct {
	// ExpireChangeTrackingInDays is how long delta tokens stay valid
	// ("Maximum number of days to keep change tracking deleted records",
	// organization table; 7 by default per
	// use-change-tracking-synchronize-data-external-systems.md).
	ExpireChangeTrackingInDays int
}

// Organization reads the environment's organizations row.
func (c *Client) Organization(ctx context.Context) (OrganizationSettings, error) {
	var body struct {
		Value []map[string]any `json:"value"`
	}
	if _, err := c.doJSON(ctx, request{method: http.MethodGet, path: "organizations", query: "$select=expirechangetrackingindays"}, &body); err != nil {
		return OrganizationSettings{}, err
	}
	var s OrganizationSettings
	if len(body.Value) > 0 {
		switch v := body.Value[0]["expirechangetrackingindays"].(type) {
		case float64:
			s.ExpireChangeTrackingInDays = int(v)
		case string:
			s.ExpireChangeTrackingInDays, _ = strconv.Atoi(v)
		default:
			if n, ok := v.(interface{ Int64() (int64, error) }); ok {
				i, _ := n.Int64()
				s.ExpireChangeTrackingInDays = int(i)
			}
		}
	}
	return s, nil
}
