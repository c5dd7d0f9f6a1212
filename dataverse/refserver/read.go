package refserver

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/dataverse/odata"
	"github.com/dvsync/dvsync/dataverse/schema"
)

const (
	// MaxPageSize is the most records one page may hold, the default page
	// size, and the most a $top may ask for (page-results.md).
	MaxPageSize = 5000
	// countLimit caps @odata.count and /$count (count-rows.md).
	countLimit = 5000
)

// readPlan is a validated collection query.
type readPlan struct {
	t           *schema.Table
	selected    []*schema.Column // nil: every column
	selectNames []string
	order       []orderKey
	where       string
	args        []any
	expand      []expandPlan
	collections []*collectionExpand
	ann         annotationFilter
	top         *int
	// qualifier prefixes column names in keysetSQL ("t0.") when the plan's
	// table is joined to others (FetchXML link-entity).
	qualifier string
}

type orderKey struct {
	col  *schema.Column
	desc bool
}

type expandPlan struct {
	nav    string
	col    *schema.Column
	target *schema.Table
	plan   *readPlan
	ref    bool // nav/$ref: an @odata.id instead of the record
}

func (s *Server) parseQuery(r *http.Request) (*odata.Query, error) {
	q, err := odata.ParseQuery(r.URL.RawQuery)
	if err != nil {
		if oe, ok := err.(*odata.Error); ok {
			return nil, newError(oe.StatusCode(), oe.Code, "%s", oe.Message)
		}
		return nil, badRequest(codeQueryNotSupported, "%s", err.Error())
	}
	return q, nil
}

// entitySetOnly refuses fetchXml and $apply outside GET /<set>, where
// Dataverse accepts them, rather than ignoring them.
func entitySetOnly(q *odata.Query) error {
	if q.FetchXML != "" || q.Apply != nil {
		return badRequest(codeQueryNotSupported, "fetchXml and $apply are supported on entity set collections only.")
	}
	return nil
}

// selectColumns resolves $select names to columns.
func selectColumns(t *schema.Table, names []string) ([]*schema.Column, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var out []*schema.Column
	for _, n := range names {
		if n == "*" {
			return nil, nil
		}
		if c, ok := t.Column(n); ok && !c.Type.IsLookup() {
			out = append(out, c)
			continue
		}
		if c, ok := t.LookupByValueProperty(n); ok {
			out = append(out, c)
			continue
		}
		return nil, couldNotFindProperty(t, n)
	}
	return out, nil
}

func (s *Server) planRead(ctx context.Context, t *schema.Table, q *odata.Query, ann annotationFilter) (*readPlan, error) {
	p := &readPlan{t: t, ann: ann, top: q.Top, selectNames: q.Select}
	var err error
	if p.selected, err = selectColumns(t, q.Select); err != nil {
		return nil, err
	}
	if q.Filter != nil {
		f := &filterSQL{s: s, t: t, alias: sqlTable(t), caller: callerFrom(ctx), now: time.Now().UTC()}
		if p.where, err = f.translate(q.Filter); err != nil {
			return nil, err
		}
		p.args = f.args
	}
	for _, o := range q.OrderBy {
		if len(o.Path) != 1 {
			return nil, badRequest(codeQueryNotSupported, "Ordering by a navigation property path ('%s') is not supported.", strings.Join(o.Path, "/"))
		}
		var col *schema.Column
		if c, ok := t.Column(o.Path[0]); ok && !c.Type.IsLookup() {
			col = c
		} else if c, ok := t.LookupByValueProperty(o.Path[0]); ok {
			col = c
		} else {
			return nil, couldNotFindProperty(t, o.Path[0])
		}
		if col.LogicalName == t.PrimaryID {
			continue // the primary key is always the final tie-breaker
		}
		p.order = append(p.order, orderKey{col: col, desc: o.Desc})
	}
	if q.Top != nil && *q.Top > MaxPageSize {
		return nil, badRequest(codeQueryNotSupported, "The limit of '%d' for $top query has been exceeded. The value from the incoming request is '%d'.", MaxPageSize, *q.Top)
	}
	if len(q.Expand) > 15 {
		return nil, badRequest(codeQueryNotSupported, "Number of expands in the query exceeds the limit of 15.")
	}
	for _, e := range q.Expand {
		if e.Ref {
			if _, _, ok := s.manyToManyFor(t, e.Property); ok {
				return nil, expandRefOnCollection()
			}
			if _, ok := s.reg.OneToManyFor(t.LogicalName, e.Property); ok {
				return nil, expandRefOnCollection()
			}
		}
		if ce, ok, err := s.expandManyToMany(ctx, t, e, ann); ok {
			if err != nil {
				return nil, err
			}
			p.collections = append(p.collections, ce)
			continue
		}
		if ce, ok, err := s.expandOneToMany(ctx, t, e, ann); ok {
			if err != nil {
				return nil, err
			}
			p.collections = append(p.collections, ce)
			continue
		}
		ep, err := s.planExpand(ctx, t, e, ann)
		if err != nil {
			return nil, err
		}
		p.expand = append(p.expand, ep)
	}
	return p, nil
}

func (s *Server) planExpand(ctx context.Context, t *schema.Table, e odata.ExpandItem, ann annotationFilter) (expandPlan, error) {
	col, targetName, ok := t.LookupByNavigation(e.Property)
	if !ok {
		return expandPlan{}, couldNotFindProperty(t, e.Property)
	}
	target, _ := s.reg.Table(targetName)
	sub := &odata.Query{Select: e.Select, Expand: e.Expand}
	if e.Filter != nil || len(e.OrderBy) > 0 || e.Top != nil {
		// Single-valued navigation yields at most one record; Dataverse
		// answers with this message (join-tables.md, "Nested $expand on
		// collection-valued navigation properties").
		return expandPlan{}, badRequest(codeQueryNotSupported, "Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested one-to-many relationship.")
	}
	plan, err := s.planRead(ctx, target, sub, ann)
	if err != nil {
		return expandPlan{}, err
	}
	return expandPlan{nav: e.Property, col: col, target: target, plan: plan, ref: e.Ref}, nil
}

// expandRefOnCollection is the documented refusal of nav/$ref on a
// collection-valued navigation property (join-tables.md).
func expandRefOnCollection() *apiError {
	return badRequest(codeQueryNotSupported, "Expand with $ref is only supported on lookup type navigation property.")
}

// fetchColumns lists the SQL columns a plan needs.
func (p *readPlan) fetchColumns() []string {
	if p.selected == nil {
		return storedColumns(p.t)
	}
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	add(p.t.PrimaryID)
	add(colVersion)
	for _, c := range p.selected {
		add(c.LogicalName)
		if c.Type.IsLookup() {
			add(c.LogicalName + targetSufix)
		}
	}
	for _, o := range p.order {
		add(o.col.LogicalName)
	}
	for _, e := range p.expand {
		add(e.col.LogicalName)
		add(e.col.LogicalName + targetSufix)
	}
	return out
}

func (p *readPlan) orderSQL() string {
	var parts []string
	for _, o := range p.order {
		dir := " ASC"
		if o.desc {
			dir = " DESC"
		}
		parts = append(parts, quoteIdent(o.col.LogicalName)+dir)
	}
	return strings.Join(append(parts, quoteIdent(p.t.PrimaryID)+" ASC"), ", ")
}

// keysetSQL builds the condition selecting rows after the cursor, for the
// ORDER BY the plan uses. SQLite sorts NULLs first ascending and last
// descending, as SQL Server does, so the comparisons below match it.
func (p *readPlan) keysetSQL(c *pagingCursor) (string, []any) {
	type key struct {
		col  string
		desc bool
		val  any
	}
	var keys []key
	for i, o := range p.order {
		keys = append(keys, key{p.qualifier + quoteIdent(o.col.LogicalName), o.desc, c.values[i]})
	}
	keys = append(keys, key{p.qualifier + quoteIdent(p.t.PrimaryID), false, c.lastID})
	var terms []string
	var args []any
	for i := range keys {
		var conj []string
		for j := 0; j < i; j++ {
			if keys[j].val == nil {
				conj = append(conj, keys[j].col+" IS NULL")
			} else {
				conj = append(conj, keys[j].col+" = ?")
				args = append(args, keys[j].val)
			}
		}
		k := keys[i]
		switch {
		case !k.desc && k.val == nil:
			conj = append(conj, k.col+" IS NOT NULL")
		case !k.desc:
			conj = append(conj, k.col+" > ?")
			args = append(args, k.val)
		case k.val == nil:
			conj = append(conj, "0")
		default:
			conj = append(conj, "("+k.col+" < ? OR "+k.col+" IS NULL)")
			args = append(args, k.val)
		}
		terms = append(terms, "("+strings.Join(conj, " AND ")+")")
	}
	return "(" + strings.Join(terms, " OR ") + ")", args
}

// pagingCursor is the decoded position of a $skiptoken.
type pagingCursor struct {
	page   int
	values []any // one per order key; nil = NULL
	lastID string
}

// Dataverse's $skiptoken is a paging cookie: an XML element whose
// pagingcookie attribute holds URL-encoded XML with the first and last value
// of each ordering column and of the primary key (page-results.md):
// <cookie pagenumber="2" pagingcookie="%3ccookie%20page%3d%221%22%3e..." istracking="False" />
func (p *readPlan) encodeCookie(page int, first, last row) string {
	return fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="False" />`, page+1, xmlAttr(url.QueryEscape(p.innerCookie(page, first, last))))
}

// innerCookie is the paging cookie proper: the first and last value of each
// ordering column and of the primary key on the page.
func (p *readPlan) innerCookie(page int, first, last row) string {
	var inner strings.Builder
	fmt.Fprintf(&inner, `<cookie page="%d">`, page)
	writeKey := func(name string, c *schema.Column, fv, lv any) {
		inner.WriteString("<" + name)
		if lv == nil {
			inner.WriteString(` lastnull="1"`)
		} else {
			inner.WriteString(` last="` + xmlAttr(cookieValue(c, lv)) + `"`)
		}
		if fv == nil {
			inner.WriteString(` firstnull="1"`)
		} else {
			inner.WriteString(` first="` + xmlAttr(cookieValue(c, fv)) + `"`)
		}
		inner.WriteString(" />")
	}
	for _, o := range p.order {
		writeKey(o.col.LogicalName, o.col, first[o.col.LogicalName], last[o.col.LogicalName])
	}
	pk, _ := p.t.Column(p.t.PrimaryID)
	writeKey(p.t.PrimaryID, pk, first[p.t.PrimaryID], last[p.t.PrimaryID])
	inner.WriteString("</cookie>")
	return inner.String()
}

func xmlAttr(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func cookieValue(c *schema.Column, v any) string {
	switch x := v.(type) {
	case lookupValue:
		return "{" + strings.ToUpper(x.ID) + "}"
	case bool:
		if x {
			return "1"
		}
		return "0"
	case string:
		if c != nil && (c.Type == schema.TypeUniqueidentifier) {
			return "{" + strings.ToUpper(x) + "}"
		}
		return x
	default:
		return fmt.Sprint(x)
	}
}

var errBadSkipToken = badRequest(codeQueryNotSupported, "The $skiptoken value is not valid for this query. Follow @odata.nextLink without changing it.")

func (p *readPlan) decodeCookie(token string) (*pagingCursor, error) {
	var outer struct {
		PageNumber   int    `xml:"pagenumber,attr"`
		PagingCookie string `xml:"pagingcookie,attr"`
	}
	if err := xml.Unmarshal([]byte(token), &outer); err != nil || outer.PagingCookie == "" {
		return nil, errBadSkipToken
	}
	innerText, err := url.QueryUnescape(outer.PagingCookie)
	if err != nil {
		return nil, errBadSkipToken
	}
	cur, err := p.decodeInnerCookie(innerText)
	if err != nil {
		return nil, err
	}
	cur.page = outer.PageNumber
	return cur, nil
}

// decodeInnerCookie reads the cookie proper (see innerCookie); the page it
// returns is the cookie's own page attribute.
func (p *readPlan) decodeInnerCookie(innerText string) (*pagingCursor, error) {
	var inner struct {
		Page int `xml:"page,attr"`
		Keys []struct {
			XMLName  xml.Name
			Last     *string `xml:"last,attr"`
			LastNull string  `xml:"lastnull,attr"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal([]byte(innerText), &inner); err != nil {
		return nil, errBadSkipToken
	}
	if len(inner.Keys) != len(p.order)+1 {
		return nil, errBadSkipToken
	}
	cur := &pagingCursor{page: inner.Page}
	for i, k := range inner.Keys {
		var col *schema.Column
		if i < len(p.order) {
			col = p.order[i].col
		} else {
			col, _ = p.t.Column(p.t.PrimaryID)
		}
		if k.XMLName.Local != col.LogicalName {
			return nil, errBadSkipToken
		}
		if k.LastNull == "1" || k.Last == nil {
			if i == len(p.order) {
				return nil, errBadSkipToken
			}
			cur.values = append(cur.values, nil)
			continue
		}
		v, err := fromCookieValue(col, *k.Last)
		if err != nil {
			return nil, errBadSkipToken
		}
		if i == len(p.order) {
			cur.lastID = asString(v)
		} else {
			cur.values = append(cur.values, v)
		}
	}
	return cur, nil
}

func fromCookieValue(c *schema.Column, s string) (any, error) {
	switch c.Type {
	case schema.TypeUniqueidentifier, schema.TypeLookup, schema.TypeCustomer, schema.TypeOwner:
		return keyLiteral(c, strings.Trim(s, "{}"))
	case schema.TypeInteger, schema.TypeBigInt, schema.TypePicklist, schema.TypeState, schema.TypeStatus, schema.TypeBoolean:
		return strconv.ParseInt(s, 10, 64)
	case schema.TypeDecimal, schema.TypeDouble, schema.TypeMoney:
		return strconv.ParseFloat(s, 64)
	}
	return s, nil
}

// runPage reads up to limit rows after cursor (nil: from the start); it
// fetches one extra row to know whether another page follows.
func (s *Server) runPage(ctx context.Context, q querier, p *readPlan, cur *pagingCursor, limit int) ([]row, bool, error) {
	where, args := p.where, append([]any(nil), p.args...)
	if cur != nil {
		ks, kargs := p.keysetSQL(cur)
		if where != "" {
			where = "(" + where + ") AND " + ks
		} else {
			where = ks
		}
		args = append(args, kargs...)
	}
	rows, err := s.store.selectRows(ctx, q, p.t, p.fetchColumns(), where, args, p.orderSQL(), limit+1)
	if err != nil {
		return nil, false, err
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	return rows, more, nil
}

func (s *Server) countRows(ctx context.Context, p *readPlan) (int, error) {
	stmt := `SELECT COUNT(*) FROM (SELECT 1 FROM ` + sqlTable(p.t)
	if p.where != "" {
		stmt += ` WHERE ` + p.where
	}
	stmt += fmt.Sprintf(` LIMIT %d)`, countLimit+1)
	var n int
	err := s.store.reader(ctx).QueryRowContext(ctx, stmt, p.args...).Scan(&n)
	return n, err
}

func (s *Server) getCollection(w http.ResponseWriter, r *http.Request, t *schema.Table) {
	q, err := s.parseQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	pref := parsePrefer(r)
	if pref.trackChanges || q.DeltaToken != "" || isTrackingSkipToken(q.SkipToken) {
		if q.FetchXML != "" || q.Apply != nil {
			writeError(w, badRequest(codeQueryNotSupported, "fetchXml and $apply cannot be used with change tracking."))
			return
		}
		s.getChanges(w, r, t, q, pref)
		return
	}
	switch {
	case q.FetchXML != "":
		s.getFetch(w, r, t, q, pref)
		return
	case q.Apply != nil:
		s.getApply(w, r, t, q, pref)
		return
	}
	ctx := r.Context()
	plan, err := s.planRead(ctx, t, q, newAnnotationFilter(pref.annotations))
	if err != nil {
		writeError(w, err)
		return
	}
	pageSize := MaxPageSize
	if pref.maxPageSize > 0 {
		pageSize = min(pref.maxPageSize, MaxPageSize)
		w.Header().Set("Preference-Applied", fmt.Sprintf("odata.maxpagesize=%d", pageSize))
	}
	paging := true
	if plan.top != nil {
		// $top bounds the whole result: no next page is offered.
		pageSize, paging = *plan.top, false
	}
	var cur *pagingCursor
	if q.SkipToken != "" {
		if cur, err = plan.decodeCookie(q.SkipToken); err != nil {
			writeError(w, err)
			return
		}
	}
	count := -1
	if q.Count {
		if count, err = s.countRows(ctx, plan); err != nil {
			writeError(w, err)
			return
		}
	}
	rows, more, err := s.runPage(ctx, s.store.reader(ctx), plan, cur, pageSize)
	if err != nil {
		writeError(w, err)
		return
	}
	var buf bytes.Buffer
	buf.Grow(256 * len(rows))
	base := baseURL(r)
	buf.WriteString(`{"@odata.context":`)
	writeJSONValue(&buf, base+"$metadata#"+t.EntitySetName+contextSelect(plan))
	if count >= 0 {
		fmt.Fprintf(&buf, `,"@odata.count":%d`, min(count, countLimit))
	}
	if plan.ann.wants(annTotalCount) {
		total := -1
		if count >= 0 {
			total = min(count, countLimit)
		}
		fmt.Fprintf(&buf, `,"@%s":%d`, annTotalCount, total)
	}
	if plan.ann.wants(annCountLimited) {
		fmt.Fprintf(&buf, `,"@%s":%t`, annCountLimited, count > countLimit)
	}
	buf.WriteString(`,"value":[`)
	if err := s.writeRows(ctx, &buf, plan, rows); err != nil {
		writeError(w, err)
		return
	}
	buf.WriteString("]")
	if paging && more && len(rows) > 0 {
		page := 1
		if cur != nil {
			page = cur.page
		}
		cookie := plan.encodeCookie(page, rows[0], rows[len(rows)-1])
		buf.WriteString(`,"@odata.nextLink":`)
		writeJSONValue(&buf, nextLink(base, t.EntitySetName, r.URL.RawQuery, cookie))
	}
	buf.WriteString("}")
	writeJSONBytes(w, http.StatusOK, buf.Bytes())
}

// nextLink keeps the client's query options as sent and replaces $skiptoken.
func nextLink(base, set, rawQuery, cookie string) string {
	return withQueryOption(base+set, rawQuery, "$skiptoken", cookie, "$skiptoken")
}

// withQueryOption rebuilds a link from the client's query string as sent,
// dropping the named options and appending name=value.
func withQueryOption(target, rawQuery, name, value string, drop ...string) string {
	var kept []string
	for _, part := range strings.Split(rawQuery, "&") {
		key, _, _ := strings.Cut(part, "=")
		n, _ := url.QueryUnescape(key)
		if part == "" || slices.Contains(drop, n) {
			continue
		}
		kept = append(kept, part)
	}
	kept = append(kept, name+"="+url.QueryEscape(value))
	return target + "?" + strings.Join(kept, "&")
}

// contextSelect renders the projection part of @odata.context.
func contextSelect(p *readPlan) string {
	var parts []string
	for _, c := range p.selected {
		if c.Type.IsLookup() {
			parts = append(parts, c.ValueProperty())
		} else {
			parts = append(parts, c.LogicalName)
		}
	}
	for _, e := range p.expand {
		parts = append(parts, e.nav+contextSelect(e.plan))
	}
	for _, c := range p.collections {
		parts = append(parts, c.nav+contextSelect(c.plan))
	}
	if len(parts) == 0 {
		if len(p.expand) > 0 || len(p.collections) > 0 {
			return "(*)"
		}
		return ""
	}
	return "(" + strings.Join(parts, ",") + ")"
}

// writeRows writes rows as comma-separated JSON objects, resolving lookup
// names and expansions for the whole page at once.
func (s *Server) writeRows(ctx context.Context, buf *bytes.Buffer, p *readPlan, rows []row) error {
	countRecords(ctx, len(rows)) // for the latency profile (latency.go)
	names, err := s.lookupNames(ctx, p, rows)
	if err != nil {
		return err
	}
	expanded := make([]map[string]row, len(p.expand))
	for i, e := range p.expand {
		if expanded[i], err = s.fetchExpansion(ctx, e, rows); err != nil {
			return err
		}
	}
	for i, r := range rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := s.writeRecord(ctx, buf, p, r, names, expanded); err != nil {
			return err
		}
	}
	return nil
}

// fetchExpansion loads the records a single-valued navigation points at.
func (s *Server) fetchExpansion(ctx context.Context, e expandPlan, rows []row) (map[string]row, error) {
	var ids []any
	seen := map[string]bool{}
	for _, r := range rows {
		if lv, ok := r[e.col.LogicalName].(lookupValue); ok && lv.Target == e.target.LogicalName && !seen[lv.ID] {
			seen[lv.ID] = true
			ids = append(ids, lv.ID)
		}
	}
	out := map[string]row{}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		marks := strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")
		got, err := s.store.selectRows(ctx, s.store.reader(ctx), e.target, e.plan.fetchColumns(), quoteIdent(e.target.PrimaryID)+" IN ("+marks+")", chunk, "", 0)
		if err != nil {
			return nil, err
		}
		for _, g := range got {
			out[asString(g[e.target.PrimaryID])] = g
		}
	}
	return out, nil
}

// lookupNames resolves the primary names of the records the page's lookups
// point at, for FormattedValue annotations. keyed target → id → name.
func (s *Server) lookupNames(ctx context.Context, p *readPlan, rows []row) (map[string]map[string]string, error) {
	if !p.ann.wants(annFormatted) {
		return nil, nil
	}
	want := map[string]map[string]bool{}
	for _, r := range rows {
		for _, v := range r {
			if lv, ok := v.(lookupValue); ok {
				if want[lv.Target] == nil {
					want[lv.Target] = map[string]bool{}
				}
				want[lv.Target][lv.ID] = true
			}
		}
	}
	out := map[string]map[string]string{}
	for target, idSet := range want {
		t, ok := s.reg.Table(target)
		if !ok || t.PrimaryName == "" {
			continue
		}
		out[target] = map[string]string{}
		ids := make([]any, 0, len(idSet))
		for id := range idSet {
			ids = append(ids, id)
		}
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			marks := strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")
			got, err := s.store.selectRows(ctx, s.store.reader(ctx), t, []string{t.PrimaryID, colVersion, t.PrimaryName}, quoteIdent(t.PrimaryID)+" IN ("+marks+")", chunk, "", 0)
			if err != nil {
				return nil, err
			}
			for _, g := range got {
				if n, ok := g[t.PrimaryName].(string); ok {
					out[target][asString(g[t.PrimaryID])] = n
				}
			}
		}
	}
	return out, nil
}

// writeRecord writes one record the way Dataverse shapes it: etag first,
// each property preceded by its annotations, the primary key always present.
func (s *Server) writeRecord(ctx context.Context, buf *bytes.Buffer, p *readPlan, r row, names map[string]map[string]string, expanded []map[string]row) error {
	t := p.t
	buf.WriteString(`{"@odata.etag":`)
	writeJSONValue(buf, etag(r))
	cols := p.selected
	if cols == nil {
		cols = make([]*schema.Column, 0, len(t.Columns))
		for i := range t.Columns {
			cols = append(cols, &t.Columns[i])
		}
	}
	wrotePK := false
	for _, c := range cols {
		v := r[c.LogicalName]
		if c.LogicalName == colVersion {
			v = r[colVersion]
		}
		name := c.LogicalName
		if c.LogicalName == t.PrimaryID {
			wrotePK = true
		}
		if c.Type.IsLookup() {
			name = c.ValueProperty()
			if lv, ok := v.(lookupValue); ok {
				if p.ann.wants(annFormatted) {
					if n, ok := names[lv.Target][lv.ID]; ok {
						writeAnnotation(buf, name, annFormatted, n)
					}
				}
				if p.ann.wants(annAssociated) {
					writeAnnotation(buf, name, annAssociated, c.NavigationProperty(lv.Target))
				}
				if p.ann.wants(annLookupName) {
					writeAnnotation(buf, name, annLookupName, lv.Target)
				}
				v = lv.ID
			}
		} else if v != nil && p.ann.wants(annFormatted) {
			if fv, ok := formattedValue(c, v); ok {
				writeAnnotation(buf, name, annFormatted, fv)
			}
		}
		buf.WriteString(",")
		writeJSONValue(buf, name)
		buf.WriteString(":")
		writeJSONValue(buf, v)
	}
	if !wrotePK {
		buf.WriteString(",")
		writeJSONValue(buf, t.PrimaryID)
		buf.WriteString(":")
		writeJSONValue(buf, r[t.PrimaryID])
	}
	for i, e := range p.expand {
		buf.WriteString(",")
		writeJSONValue(buf, e.nav)
		buf.WriteString(":")
		lv, ok := r[e.col.LogicalName].(lookupValue)
		target, found := expanded[i][lv.ID]
		if !ok || lv.Target != e.target.LogicalName || !found {
			buf.WriteString("null")
			continue
		}
		if e.ref {
			l, _ := requestLogFrom(ctx)
			buf.WriteString(`{"@odata.id":`)
			writeJSONValue(buf, l.base+e.target.EntitySetName+"("+lv.ID+")")
			buf.WriteString("}")
			continue
		}
		var sub bytes.Buffer
		if err := s.writeRows(ctx, &sub, e.plan, []row{target}); err != nil {
			return err
		}
		buf.Write(sub.Bytes())
	}
	for _, ce := range p.collections {
		related, err := s.collectionRows(ctx, ce, t, asString(r[t.PrimaryID]))
		if err != nil {
			return err
		}
		buf.WriteString(",")
		writeJSONValue(buf, ce.nav)
		buf.WriteString(":[")
		if err := s.writeRows(ctx, buf, ce.plan, related); err != nil {
			return err
		}
		buf.WriteString("]")
		// join-tables.md: each expanded collection carries a nextLink to
		// the filtered collection with the expand's options, no paging.
		if l, ok := requestLogFrom(ctx); ok && l.base != "" {
			link := l.base + t.EntitySetName + "(" + asString(r[t.PrimaryID]) + ")/" + ce.nav
			if qs := (&odata.Query{Select: ce.item.Select, Filter: ce.item.Filter, OrderBy: ce.item.OrderBy, Expand: ce.item.Expand}).Encode(); qs != "" {
				link += "?" + qs
			}
			writeAnnotation(buf, ce.nav, "odata.nextLink", link)
		}
	}
	buf.WriteString("}")
	return nil
}

func writeAnnotation(buf *bytes.Buffer, prop, ann string, v any) {
	buf.WriteString(",")
	writeJSONValue(buf, prop+"@"+ann)
	buf.WriteString(":")
	writeJSONValue(buf, v)
}

func etag(r row) string {
	return fmt.Sprintf(`W/"%d"`, r[colVersion])
}

// formattedValue renders a value as Dataverse's FormattedValue annotation
// does for an en-US user in UTC.
func formattedValue(c *schema.Column, v any) (string, bool) {
	switch c.Type {
	case schema.TypePicklist, schema.TypeState, schema.TypeStatus:
		n, _ := v.(int64)
		if o, ok := c.OptionByValue(int(n)); ok {
			return o.Label, true
		}
	case schema.TypeBoolean:
		if b, _ := v.(bool); b {
			return "Yes", true
		}
		return "No", true
	case schema.TypeDateTime:
		if tm, err := time.Parse(dateTimeLayout, asString(v)); err == nil {
			return tm.Format("1/2/2006 3:04 PM"), true
		}
	case schema.TypeDateOnly:
		if tm, err := time.Parse(dateOnlyLayout, asString(v)); err == nil {
			return tm.Format("1/2/2006"), true
		}
	case schema.TypeInteger, schema.TypeBigInt:
		n, _ := v.(int64)
		return groupDigitString(strconv.FormatInt(n, 10)), true
	case schema.TypeDecimal, schema.TypeDouble:
		f, _ := v.(float64)
		prec := c.Precision
		if prec == 0 {
			prec = 2
		}
		s := strconv.FormatFloat(f, 'f', prec, 64)
		whole, frac, _ := strings.Cut(s, ".")
		return groupDigitString(whole) + "." + frac, true
	case schema.TypeMoney:
		f, _ := v.(float64)
		s := strconv.FormatFloat(f, 'f', 2, 64)
		whole, frac, _ := strings.Cut(s, ".")
		return "$" + groupDigitString(whole) + "." + frac, true
	}
	return "", false
}

func groupDigitString(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func (s *Server) countCollection(w http.ResponseWriter, r *http.Request, t *schema.Table) {
	q, err := s.parseQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := entitySetOnly(q); err != nil {
		writeError(w, err)
		return
	}
	if q.DeltaToken != "" {
		s.countChanges(w, r, t, q)
		return
	}
	plan, err := s.planRead(r.Context(), t, q, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	n, err := s.countRows(r.Context(), plan)
	if err != nil {
		writeError(w, err)
		return
	}
	body := strconv.Itoa(min(n, countLimit))
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(body))
}

// findRecord loads a record by primary key or alternate key; (nil, nil)
// when absent.
func (s *Server) findRecord(ctx context.Context, q querier, t *schema.Table, id string, key map[string]any) (row, error) {
	if key != nil {
		return s.store.getByKey(ctx, q, t, key)
	}
	return s.store.get(ctx, q, t, id)
}

// existingRecord is findRecord for requests that address one record: an
// absent record is Dataverse's 404.
func (s *Server) existingRecord(ctx context.Context, q querier, t *schema.Table, id string, key map[string]any) (row, error) {
	rec, err := s.findRecord(ctx, q, t, id, key)
	if err == nil && rec == nil {
		err = notFoundByKey(t, id, key)
	}
	return rec, err
}

func notFoundByKey(t *schema.Table, id string, key map[string]any) *apiError {
	if key != nil {
		return newError(http.StatusNotFound, codeObjectDoesNotExist, "A record with the specified key values does not exist in %s entity", t.LogicalName)
	}
	return recordNotFound(t.LogicalName, id)
}

func (s *Server) getRecord(w http.ResponseWriter, r *http.Request, t *schema.Table, id string, key map[string]any) {
	q, err := s.parseQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := entitySetOnly(q); err != nil {
		writeError(w, err)
		return
	}
	pref := parsePrefer(r)
	ctx := r.Context()
	plan, err := s.planRead(ctx, t, q, newAnnotationFilter(pref.annotations))
	if err != nil {
		writeError(w, err)
		return
	}
	rec, err := s.existingRecord(ctx, s.store.reader(ctx), t, id, key)
	if err != nil {
		writeError(w, err)
		return
	}
	tag := etag(rec)
	// Conditional retrieval: 304 when unchanged, except with $expand or
	// annotations (perform-conditional-operations-using-web-api.md).
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm != "null" && inm == tag && len(plan.expand) == 0 && pref.annotations == "" {
		w.Header().Set("ETag", tag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.writeSingle(w, r, plan, rec, http.StatusOK)
}

// writeSingle writes one record with its $entity context.
func (s *Server) writeSingle(w http.ResponseWriter, r *http.Request, plan *readPlan, rec row, status int) {
	var rb bytes.Buffer
	if err := s.writeRows(r.Context(), &rb, plan, []row{rec}); err != nil {
		writeError(w, err)
		return
	}
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	writeJSONValue(&buf, baseURL(r)+"$metadata#"+plan.t.EntitySetName+contextSelect(plan)+"/$entity")
	buf.WriteString(",")
	buf.Write(rb.Bytes()[1:]) // splice: drop the record's opening brace
	w.Header().Set("ETag", etag(rec))
	writeJSONBytes(w, status, buf.Bytes())
}

var _ = sql.ErrNoRows
