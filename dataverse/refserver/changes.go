package refserver

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/dataverse/odata"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// Change tracking (use-change-tracking-synchronize-data-external-systems.md).
// A delta token is "<version>!<MM/dd/yyyy HH:mm:ss>": the row version the
// client has seen up to, and when the token was issued (for retention).

const (
	codeExpiredVersionStamp = "0x80044352" // ExpiredVersionStamp
	codeChangeTrackingOff   = "0x80044353"
	deltaTimeLayout         = "01/02/2006 15:04:05"
	// DefaultChangeRetention is organization.ExpireChangeTrackingInDays' default.
	DefaultChangeRetention = 7 * 24 * time.Hour
)

type deltaToken struct {
	version int64
	issued  time.Time
}

func (d deltaToken) String() string {
	return strconv.FormatInt(d.version, 10) + "!" + d.issued.UTC().Format(deltaTimeLayout)
}

func parseDeltaToken(s string) (deltaToken, error) {
	v, ts, ok := strings.Cut(s, "!")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil {
		return deltaToken{}, badRequest(codeExpiredVersionStamp, "The delta token is not valid. Please perform a full sync.")
	}
	tm, err := time.Parse(deltaTimeLayout, ts)
	if err != nil {
		return deltaToken{}, badRequest(codeExpiredVersionStamp, "The delta token is not valid. Please perform a full sync.")
	}
	return deltaToken{version: n, issued: tm}, nil
}

// deltaCursor is the paging position inside a tracked read; it rides in
// the $skiptoken as an istracking="True" paging cookie.
type deltaCursor struct {
	phase     string // "rows" or "deletes"
	after     int64  // last version returned in this phase
	afterID   string // last primary key among rows (initial read pages by key)
	snapshot  int64  // version the final delta link will carry
	page      int
	fromToken int64 // the client's token version; -1 for an initial read
}

func (c deltaCursor) encode() string {
	inner := fmt.Sprintf(`<cookie page="%d" phase="%s" after="%d" afterid="%s" snapshot="%d" from="%d" />`, c.page, c.phase, c.after, c.afterID, c.snapshot, c.fromToken)
	return fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="True" />`, c.page+1, xmlAttr(url.QueryEscape(inner)))
}

func decodeDeltaCursor(token string) (deltaCursor, error) {
	var outer struct {
		PagingCookie string `xml:"pagingcookie,attr"`
		IsTracking   string `xml:"istracking,attr"`
	}
	if err := xml.Unmarshal([]byte(token), &outer); err != nil || outer.IsTracking != "True" {
		return deltaCursor{}, errBadSkipToken
	}
	inner, err := url.QueryUnescape(outer.PagingCookie)
	if err != nil {
		return deltaCursor{}, errBadSkipToken
	}
	var c struct {
		Page     int    `xml:"page,attr"`
		Phase    string `xml:"phase,attr"`
		After    int64  `xml:"after,attr"`
		AfterID  string `xml:"afterid,attr"`
		Snapshot int64  `xml:"snapshot,attr"`
		From     int64  `xml:"from,attr"`
	}
	if err := xml.Unmarshal([]byte(inner), &c); err != nil || (c.Phase != "rows" && c.Phase != "deletes") {
		return deltaCursor{}, errBadSkipToken
	}
	return deltaCursor{phase: c.Phase, after: c.After, afterID: c.AfterID, snapshot: c.Snapshot, page: c.Page, fromToken: c.From}, nil
}

// isTrackingSkipToken tells whether a $skiptoken continues a tracked read,
// so that a client following @odata.nextLink without repeating
// Prefer: odata.track-changes still gets the tracked pages.
func isTrackingSkipToken(token string) bool {
	return token != "" && strings.Contains(token, `istracking="True"`)
}

func (s *Server) retention() time.Duration {
	if s.opts.ChangeRetention > 0 {
		return s.opts.ChangeRetention
	}
	return DefaultChangeRetention
}

func (s *Server) checkTracking(t *schema.Table, q *odata.Query) error {
	if !t.ChangeTracking {
		return badRequest(codeChangeTrackingOff, "Change tracking is not enabled for the entity '%s'. Enable it with the ChangeTrackingEnabled property of the table.", t.LogicalName)
	}
	reject := func(opt string) error {
		return badRequest(codeQueryNotSupported, "The query parameter %s isn't supported when Change Tracking is enabled.", opt)
	}
	switch {
	case q.Filter != nil:
		return reject("$filter")
	case len(q.OrderBy) > 0:
		return reject("$orderby")
	case len(q.Expand) > 0:
		return reject("$expand")
	case q.Top != nil:
		return reject("$top")
	}
	return nil
}

func (s *Server) currentVersion() int64 {
	s.store.writeMu.Lock()
	defer s.store.writeMu.Unlock()
	return s.store.version
}

// getChanges serves a tracked read: an initial full read ending in a delta
// link, or the changes since a delta token: new and updated rows first
// (ordered by version), then deletions as $deletedEntity entries.
func (s *Server) getChanges(w http.ResponseWriter, r *http.Request, t *schema.Table, q *odata.Query, pref preferences) {
	if err := s.checkTracking(t, q); err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	plan, err := s.planRead(ctx, t, &odata.Query{Select: q.Select}, newAnnotationFilter(pref.annotations))
	if err != nil {
		writeError(w, err)
		return
	}
	pageSize := MaxPageSize
	applied := []string{"odata.track-changes"}
	if pref.maxPageSize > 0 {
		pageSize = min(pref.maxPageSize, MaxPageSize)
		applied = append(applied, fmt.Sprintf("odata.maxpagesize=%d", pageSize))
	}
	w.Header().Set("Preference-Applied", strings.Join(applied, ","))

	var cur deltaCursor
	switch {
	case q.SkipToken != "":
		if cur, err = decodeDeltaCursor(q.SkipToken); err != nil {
			writeError(w, err)
			return
		}
	case q.DeltaToken != "":
		tok, err := parseDeltaToken(q.DeltaToken)
		if err != nil {
			writeError(w, err)
			return
		}
		if time.Since(tok.issued) > s.retention() || tok.version > s.currentVersion() {
			// Wording of the ExpiredVersionStamp fault (powerapps-docs#3845).
			writeError(w, badRequest(codeExpiredVersionStamp, "Version stamp associated with the client has expired. Please perform a full sync."))
			return
		}
		cur = deltaCursor{phase: "rows", after: tok.version, snapshot: s.currentVersion(), page: 1, fromToken: tok.version}
	default:
		cur = deltaCursor{phase: "rows", after: 0, snapshot: s.currentVersion(), page: 1, fromToken: -1}
	}

	base := baseURL(r)
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	suffix := ""
	if cur.fromToken >= 0 {
		suffix = "/$delta"
	}
	writeJSONValue(&buf, base+"$metadata#"+t.EntitySetName+contextSelect(plan)+suffix)
	buf.WriteString(`,"value":[`)
	written := 0
	var next *deltaCursor
	if cur.phase == "rows" {
		rows, more, err := s.changedRows(ctx, plan, cur, pageSize)
		if err != nil {
			writeError(w, err)
			return
		}
		if err := s.writeRows(ctx, &buf, plan, rows); err != nil {
			writeError(w, err)
			return
		}
		written = len(rows)
		if more {
			n := cur
			n.page++
			last := rows[len(rows)-1]
			n.after, _ = last[colVersion].(int64)
			n.afterID = asString(last[t.PrimaryID])
			next = &n
		} else if cur.fromToken >= 0 {
			cur = deltaCursor{phase: "deletes", after: cur.fromToken, snapshot: cur.snapshot, page: cur.page, fromToken: cur.fromToken}
		}
	}
	if next == nil && cur.phase == "deletes" && written < pageSize {
		dels, more, err := s.deletedSince(ctx, t, cur.after, cur.snapshot, pageSize-written)
		if err != nil {
			writeError(w, err)
			return
		}
		for _, d := range dels {
			if written > 0 {
				buf.WriteString(",")
			}
			written++
			buf.WriteString(`{"@odata.context":`)
			writeJSONValue(&buf, base+"$metadata#"+t.EntitySetName+"/$deletedEntity")
			fmt.Fprintf(&buf, `,"id":%q,"reason":"deleted"}`, d.id)
		}
		if more {
			n := cur
			n.page++
			n.after = dels[len(dels)-1].version
			next = &n
		}
	} else if next == nil && cur.phase == "deletes" {
		n := cur
		n.page++
		next = &n
	}
	buf.WriteString("]")
	if next != nil {
		buf.WriteString(`,"@odata.nextLink":`)
		writeJSONValue(&buf, nextLink(base, t.EntitySetName, r.URL.RawQuery, next.encode()))
	} else {
		tok := deltaToken{version: cur.snapshot, issued: time.Now().UTC()}
		buf.WriteString(`,"@odata.deltaLink":`)
		writeJSONValue(&buf, deltaLink(base, t.EntitySetName, r.URL.RawQuery, tok.String()))
	}
	buf.WriteString("}")
	writeJSONBytes(w, http.StatusOK, buf.Bytes())
}

// changedRows returns rows for one page of a tracked read. An initial read
// pages by primary key over rows that existed at the snapshot; a delta read
// pages by version over rows changed after the token.
func (s *Server) changedRows(ctx context.Context, p *readPlan, cur deltaCursor, limit int) ([]row, bool, error) {
	t := p.t
	var where string
	var args []any
	var order string
	if cur.fromToken < 0 {
		where = quoteIdent(colVersion) + " <= ?"
		args = []any{cur.snapshot}
		if cur.afterID != "" {
			where += " AND " + quoteIdent(t.PrimaryID) + " > ?"
			args = append(args, cur.afterID)
		}
		order = quoteIdent(t.PrimaryID)
	} else {
		where = quoteIdent(colVersion) + " > ? AND " + quoteIdent(colVersion) + " <= ?"
		args = []any{cur.after, cur.snapshot}
		order = quoteIdent(colVersion)
	}
	rows, err := s.store.selectRows(ctx, s.store.reader(ctx), t, p.fetchColumns(), where, args, order, limit+1)
	if err != nil {
		return nil, false, err
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	return rows, more, nil
}

type tombstone struct {
	id      string
	version int64
}

func (s *Server) deletedSince(ctx context.Context, t *schema.Table, after, upTo int64, limit int) ([]tombstone, bool, error) {
	rs, err := s.store.reader(ctx).QueryContext(ctx, `SELECT id, version FROM _tombstones WHERE tbl = ? AND version > ? AND version <= ? ORDER BY version LIMIT ?`, t.LogicalName, after, upTo, limit+1)
	if err != nil {
		return nil, false, err
	}
	defer rs.Close()
	var out []tombstone
	for rs.Next() {
		var d tombstone
		if err := rs.Scan(&d.id, &d.version); err != nil {
			return nil, false, err
		}
		out = append(out, d)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, rs.Err()
}

func deltaLink(base, set, rawQuery, token string) string {
	return withQueryOption(base+set, rawQuery, "$deltatoken", token, "$skiptoken", "$deltatoken")
}

// countChanges answers GET /<set>/$count?$deltatoken=...
func (s *Server) countChanges(w http.ResponseWriter, r *http.Request, t *schema.Table, q *odata.Query) {
	if err := s.checkTracking(t, q); err != nil {
		writeError(w, err)
		return
	}
	tok, err := parseDeltaToken(q.DeltaToken)
	if err != nil {
		writeError(w, err)
		return
	}
	if time.Since(tok.issued) > s.retention() || tok.version > s.currentVersion() {
		writeError(w, badRequest(codeExpiredVersionStamp, "Version stamp associated with the client has expired. Please perform a full sync."))
		return
	}
	var n1, n2 int
	ctx := r.Context()
	if err := s.store.reader(ctx).QueryRowContext(ctx, `SELECT COUNT(*) FROM `+sqlTable(t)+` WHERE `+quoteIdent(colVersion)+` > ?`, tok.version).Scan(&n1); err != nil {
		writeError(w, err)
		return
	}
	if err := s.store.reader(ctx).QueryRowContext(ctx, `SELECT COUNT(*) FROM _tombstones WHERE tbl = ? AND version > ?`, t.LogicalName, tok.version).Scan(&n2); err != nil {
		writeError(w, err)
		return
	}
	body := strconv.Itoa(n1 + n2)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(body))
}
