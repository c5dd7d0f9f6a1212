package refserver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/odata"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// Annotations of FetchXML paging (fetchxml/page-results.md, Web API tab).
const (
	annFetchCookie = "Microsoft.Dynamics.CRM.fetchxmlpagingcookie"
	annMoreRecords = "Microsoft.Dynamics.CRM.morerecords"
)

// balancedJoin joins SQL terms with op as a balanced tree of parentheses,
// so that a long chain of conditions nests log2(n) deep: SQLite refuses
// expressions nested more than 1,000 deep ("Expression tree is too large"),
// which a flat chain of a thousand OR terms already is.
func balancedJoin(parts []string, op string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	mid := len(parts) / 2
	return "(" + balancedJoin(parts[:mid], op) + " " + op + " " + balancedJoin(parts[mid:], op) + ")"
}

// fetchSQL builds SQL for one fetchSpec.
type fetchSQL struct {
	s       *Server
	spec    *fetchSpec
	args    []any
	now     time.Time
	byAlias map[string]*fetchEntity
}

func (b *fetchSQL) bind(v any) string {
	b.args = append(b.args, v)
	return "?"
}

func colSQL(e *fetchEntity, c *schema.Column) string {
	return e.sqlAlias + "." + quoteIdent(c.LogicalName)
}

// from renders the FROM clause with every link-entity joined; a link's own
// filters go into its ON clause, so that an outer join keeps parent rows
// whose related row does not match (join-tables.md, filter-rows.md).
func (b *fetchSQL) from() (string, error) {
	var sb strings.Builder
	sb.WriteString(sqlTable(b.spec.root.t) + " t0")
	for _, e := range b.spec.entities[1:] {
		if e.outer {
			sb.WriteString(" LEFT JOIN ")
		} else {
			sb.WriteString(" JOIN ")
		}
		table := sqlTable(e.t)
		if e.fromSQL != "" {
			table = e.fromSQL
		}
		sb.WriteString(table + " " + e.sqlAlias + " ON " + colSQL(e, e.from) + " = " + colSQL(e.parent, e.to))
		for _, f := range e.filters {
			cond, err := b.filter(f)
			if err != nil {
				return "", err
			}
			if cond != "" {
				sb.WriteString(" AND " + cond)
			}
		}
	}
	return sb.String(), nil
}

func (b *fetchSQL) where() (string, error) {
	var parts []string
	for _, f := range b.spec.root.filters {
		cond, err := b.filter(f)
		if err != nil {
			return "", err
		}
		if cond != "" {
			parts = append(parts, cond)
		}
	}
	return balancedJoin(parts, "AND"), nil
}

func (b *fetchSQL) filter(f *fetchFilter) (string, error) {
	var parts []string
	for _, c := range f.conds {
		sql, err := b.cond(c)
		if err != nil {
			return "", err
		}
		parts = append(parts, sql)
	}
	for _, sub := range f.subs {
		sql, err := b.filter(sub)
		if err != nil {
			return "", err
		}
		if sql != "" {
			parts = append(parts, sql)
		}
	}
	if f.or {
		return balancedJoin(parts, "OR"), nil
	}
	return balancedJoin(parts, "AND"), nil
}

// fetchValue converts a condition value, always text in FetchXML, to what
// the store holds for col.
func fetchValue(col *schema.Column, s string) (any, error) {
	bad := func() error {
		return badRequest(codeInvalidArgument, "An exception System.FormatException was thrown while trying to convert input value '%s' to attribute '%s'. Expected type of attribute value: %s.", s, col.LogicalName, edmType(col))
	}
	t := strings.TrimSpace(s)
	switch col.Type {
	case schema.TypeString, schema.TypeMemo, schema.TypeEntityName:
		return s, nil
	case schema.TypeInteger, schema.TypeBigInt, schema.TypePicklist, schema.TypeState, schema.TypeStatus:
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return nil, bad()
		}
		return n, nil
	case schema.TypeDecimal, schema.TypeDouble, schema.TypeMoney:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, bad()
		}
		return f, nil
	case schema.TypeBoolean:
		switch strings.ToLower(t) {
		case "1", "true":
			return int64(1), nil
		case "0", "false":
			return int64(0), nil
		}
		return nil, bad()
	case schema.TypeDateTime, schema.TypeDateOnly:
		tm, err := fetchDate(t)
		if err != nil {
			return nil, bad()
		}
		return dateBound(col, tm), nil
	case schema.TypeUniqueidentifier, schema.TypeLookup, schema.TypeCustomer, schema.TypeOwner:
		id, err := uuid.Parse(t)
		if err != nil {
			return nil, bad()
		}
		return id.String(), nil
	}
	return nil, bad()
}

// fetchDate reads the date forms FetchXML queries use: ISO 8601 with or
// without time, and the US form of the UI (2/28/2022).
func fetchDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02", "1/2/2006", "1/2/2006 3:04 PM"} {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date")
}

// dateBound renders a time the way col stores it, so that comparisons of the
// stored text are comparisons of dates.
func dateBound(col *schema.Column, t time.Time) string {
	if col.Type == schema.TypeDateOnly {
		return t.Format(dateOnlyLayout)
	}
	return t.UTC().Format(dateTimeLayout)
}

var fetchCompare = map[string]string{"eq": "=", "ne": "<>", "neq": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}

// cond translates one <condition> (condition.md and the operator pages
// under fetchxml/reference/operators).
func (b *fetchSQL) cond(c *fetchCond) (string, error) {
	e := c.ent
	if c.entityName != "" {
		var ok bool
		if e, ok = b.byAlias[c.entityName]; !ok {
			return "", fetchSchemaError("The entityname '%s' of a condition names no link-entity alias in the query.", c.entityName)
		}
	}
	col, ok := e.t.Column(c.attribute)
	if !ok {
		return "", noAttribute(e.t, c.attribute)
	}
	cs := colSQL(e, col)
	one := func() (any, error) {
		if len(c.values) != 1 {
			return nil, fetchSchemaError("The condition operator '%s' on '%s' takes exactly one value.", c.op, c.attribute)
		}
		return fetchValue(col, c.values[0])
	}
	none := func() error {
		if c.hasValue {
			return fetchSchemaError("The condition operator '%s' on '%s' takes no value.", c.op, c.attribute)
		}
		return nil
	}
	count := func() (int, error) {
		if len(c.values) != 1 {
			return 0, fetchSchemaError("The condition operator '%s' on '%s' takes one integer value.", c.op, c.attribute)
		}
		n, err := strconv.Atoi(strings.TrimSpace(c.values[0]))
		if err != nil || n < 0 || n > 100000 {
			return 0, badRequest(codeInvalidArgument, "The value '%s' of the condition operator '%s' must be a non-negative integer.", c.values[0], c.op)
		}
		return n, nil
	}
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	between := func(from, to time.Time) string {
		return "(" + cs + " >= " + b.bind(dateBound(col, from)) + " AND " + cs + " < " + b.bind(dateBound(col, to)) + ")"
	}
	like := func(pattern string, not bool) string {
		op := " LIKE "
		if not {
			op = " NOT LIKE "
		}
		return "(" + cs + op + b.bind(pattern) + " ESCAPE '\\')"
	}
	if sqlOp, ok := fetchCompare[c.op]; ok {
		if c.valueOf != "" {
			other, ok := e.t.Column(c.valueOf)
			if !ok {
				return "", noAttribute(e.t, c.valueOf)
			}
			return "(" + cs + " " + sqlOp + " " + colSQL(e, other) + ")", nil
		}
		v, err := one()
		if err != nil {
			return "", err
		}
		return "(" + cs + " " + sqlOp + " " + b.bind(v) + ")", nil
	}
	switch c.op {
	case "like", "not-like":
		if len(c.values) != 1 {
			return "", fetchSchemaError("The condition operator '%s' on '%s' takes exactly one value.", c.op, c.attribute)
		}
		if err := checkLikePattern(c.values[0]); err != nil {
			return "", err
		}
		// like takes SQL wildcards as written (operators/like.md); only the
		// escape character of our SQL needs protecting.
		return like(strings.ReplaceAll(c.values[0], `\`, `\\`), c.op == "not-like"), nil
	case "begins-with", "not-begin-with", "ends-with", "not-end-with":
		if len(c.values) != 1 {
			return "", fetchSchemaError("The condition operator '%s' on '%s' takes exactly one value.", c.op, c.attribute)
		}
		if err := checkLikePattern(c.values[0]); err != nil {
			return "", err
		}
		v := strings.ReplaceAll(c.values[0], `\`, `\\`)
		if strings.HasPrefix(c.op, "ends") || strings.HasPrefix(c.op, "not-end") {
			v = "%" + v
		} else {
			v += "%"
		}
		return like(v, strings.HasPrefix(c.op, "not-")), nil
	case "in", "not-in":
		if len(c.values) == 0 {
			return "", fetchSchemaError("The condition operator '%s' on '%s' needs at least one value.", c.op, c.attribute)
		}
		phs := make([]string, 0, len(c.values))
		for _, s := range c.values {
			v, err := fetchValue(col, s)
			if err != nil {
				return "", err
			}
			phs = append(phs, b.bind(v))
		}
		op := " IN "
		if c.op == "not-in" {
			op = " NOT IN "
		}
		return "(" + cs + op + "(" + strings.Join(phs, ", ") + "))", nil
	case "between", "not-between":
		if len(c.values) != 2 {
			return "", fetchSchemaError("The condition operator '%s' on '%s' takes exactly two values.", c.op, c.attribute)
		}
		lo, err := fetchValue(col, c.values[0])
		if err != nil {
			return "", err
		}
		hi, err := fetchValue(col, c.values[1])
		if err != nil {
			return "", err
		}
		not := ""
		if c.op == "not-between" {
			not = "NOT "
		}
		return "(" + cs + " " + not + "BETWEEN " + b.bind(lo) + " AND " + b.bind(hi) + ")", nil
	case "null", "not-null":
		if err := none(); err != nil {
			return "", err
		}
		if c.op == "null" {
			return "(" + cs + " IS NULL)", nil
		}
		return "(" + cs + " IS NOT NULL)", nil
	case "eq-userid", "ne-userid", "eq-businessid", "ne-businessid":
		if err := none(); err != nil {
			return "", err
		}
		id := b.s.adminUserID
		if strings.Contains(c.op, "business") {
			id = b.s.businessUnitID
		}
		if strings.HasPrefix(c.op, "eq") {
			return "(" + cs + " = " + b.bind(id) + ")", nil
		}
		return "(" + cs + " IS NULL OR " + cs + " <> " + b.bind(id) + ")", nil
	}
	if col.Type != schema.TypeDateTime && col.Type != schema.TypeDateOnly {
		if isDateOperator(c.op) {
			return "", badRequest(codeInvalidArgument, "The condition operator '%s' applies to date and time columns; '%s' is %s.", c.op, c.attribute, col.Type)
		}
	}
	today := day(b.now)
	switch c.op {
	case "today", "yesterday", "tomorrow", "last-seven-days", "next-seven-days":
		if err := none(); err != nil {
			return "", err
		}
		switch c.op {
		case "today":
			return between(today, today.AddDate(0, 0, 1)), nil
		case "yesterday":
			return between(today.AddDate(0, 0, -1), today), nil
		case "tomorrow":
			return between(today.AddDate(0, 0, 1), today.AddDate(0, 0, 2)), nil
		case "last-seven-days":
			return between(today.AddDate(0, 0, -7), today.AddDate(0, 0, 1)), nil
		default:
			return between(b.now, today.AddDate(0, 0, 8)), nil
		}
	case "on", "on-or-after", "on-or-before":
		if len(c.values) != 1 {
			return "", fetchSchemaError("The condition operator '%s' on '%s' takes exactly one value.", c.op, c.attribute)
		}
		tm, err := fetchDate(strings.TrimSpace(c.values[0]))
		if err != nil {
			return "", badRequest(codeInvalidArgument, "The value '%s' of the condition operator '%s' is not a date.", c.values[0], c.op)
		}
		d := day(tm)
		switch c.op {
		case "on":
			return between(d, d.AddDate(0, 0, 1)), nil
		case "on-or-after":
			return "(" + cs + " >= " + b.bind(dateBound(col, d)) + ")", nil
		default:
			return "(" + cs + " < " + b.bind(dateBound(col, d.AddDate(0, 0, 1))) + ")", nil
		}
	case "last-x-days", "next-x-days", "last-x-hours", "next-x-hours", "olderthan-x-days", "olderthan-x-hours":
		n, err := count()
		if err != nil {
			return "", err
		}
		switch c.op {
		case "last-x-days":
			// The last X days run up to the end of today.
			return between(today.AddDate(0, 0, -n), today.AddDate(0, 0, 1)), nil
		case "next-x-days":
			return between(b.now, today.AddDate(0, 0, n+1)), nil
		case "last-x-hours":
			return between(b.now.Add(-time.Duration(n)*time.Hour), b.now.Add(time.Second)), nil
		case "next-x-hours":
			return between(b.now, b.now.Add(time.Duration(n)*time.Hour)), nil
		case "olderthan-x-days":
			return "(" + cs + " < " + b.bind(dateBound(col, today.AddDate(0, 0, -n))) + ")", nil
		default:
			return "(" + cs + " < " + b.bind(dateBound(col, b.now.Add(-time.Duration(n)*time.Hour))) + ")", nil
		}
	}
	return "", badRequest(codeQueryNotSupported, "The condition operator '%s' is not supported by the reference server.", c.op)
}

func isDateOperator(op string) bool {
	switch op {
	case "today", "yesterday", "tomorrow", "last-seven-days", "next-seven-days", "on", "on-or-after", "on-or-before",
		"last-x-days", "next-x-days", "last-x-hours", "next-x-hours", "olderthan-x-days", "olderthan-x-hours":
		return true
	}
	return false
}

// maxLikePattern keeps patterns below SQLite's LIKE limit (50,000 bytes),
// which would otherwise fail the statement with a 500.
const maxLikePattern = 8000

func checkLikePattern(p string) error {
	if len(p) > maxLikePattern {
		return badRequest(codeQueryNotSupported, "The pattern of a like condition is longer than %d characters.", maxLikePattern)
	}
	return nil
}

// fetchOutCol is one property of a non-aggregate FetchXML row.
type fetchOutCol struct {
	ent  *fetchEntity
	col  *schema.Column
	name string // property name in the response
}

// getFetch answers GET /<set>?fetchXml=…
func (s *Server) getFetch(w http.ResponseWriter, r *http.Request, t *schema.Table, q *odata.Query, pref preferences) {
	spec, err := s.parseFetch(q.FetchXML, t)
	if err != nil {
		writeError(w, err)
		return
	}
	b := &fetchSQL{s: s, spec: spec, now: time.Now().UTC(), byAlias: map[string]*fetchEntity{}}
	for _, e := range spec.entities[1:] {
		b.byAlias[e.alias] = e
	}
	from, err := b.from()
	if err != nil {
		writeError(w, err)
		return
	}
	where, err := b.where()
	if err != nil {
		writeError(w, err)
		return
	}
	ann := newAnnotationFilter(pref.annotations)
	if spec.aggregate {
		p, err := b.aggregatePlan(from, where)
		if err != nil {
			writeError(w, err)
			return
		}
		s.serveAggregate(w, r, t, p, ann)
		return
	}
	s.serveFetchRows(w, r, t, b, from, where, q, ann)
}

func (s *Server) serveFetchRows(w http.ResponseWriter, r *http.Request, t *schema.Table, b *fetchSQL, from, where string, q *odata.Query, ann annotationFilter) {
	spec := b.spec
	ctx := r.Context()
	// Columns: every entity's selected attributes, the root's key and
	// version (for the etag) unless the query is distinct.
	var out []fetchOutCol
	for _, e := range spec.entities {
		cols := e.attrs
		if e.all {
			cols = nil
			for i := range e.t.Columns {
				cols = append(cols, fetchAttr{col: &e.t.Columns[i]})
			}
		}
		for _, a := range cols {
			name := a.col.LogicalName
			if e == spec.root {
				if a.col.Type.IsLookup() {
					name = a.col.ValueProperty()
				}
				if a.alias != "" {
					name = a.alias
				}
			} else {
				name = e.alias + "." + name
				if a.alias != "" {
					name = a.alias
				}
			}
			out = append(out, fetchOutCol{ent: e, col: a.col, name: name})
		}
	}
	type sqlCol struct {
		ent  *fetchEntity
		name string
	}
	var sel []sqlCol
	seen := map[string]bool{}
	add := func(e *fetchEntity, name string) {
		k := e.sqlAlias + "." + name
		if !seen[k] {
			seen[k] = true
			sel = append(sel, sqlCol{e, name})
		}
	}
	root := spec.root
	if !spec.distinct {
		add(root, root.t.PrimaryID)
		add(root, colVersion)
	}
	for _, o := range out {
		add(o.ent, o.col.LogicalName)
		if o.col.Type.IsLookup() {
			add(o.ent, o.col.LogicalName+targetSufix)
		}
	}
	if len(sel) == 0 {
		// A distinct query with no attributes returns the primary key.
		add(root, root.t.PrimaryID)
		pk, _ := root.t.Column(root.t.PrimaryID)
		out = append(out, fetchOutCol{ent: root, col: pk, name: root.t.PrimaryID})
	}
	// Order: root orders can be carried in a paging cookie; an order on a
	// link-entity disables cookies (page-results.md, "Queries that don't
	// support paging cookies").
	plan := &readPlan{t: root.t, qualifier: "t0."}
	cookieOK := !spec.distinct
	var orderSQL []string
	// Orders of the entity element come first, then those of each
	// link-entity (order-rows.md, "Process link-entity orders first").
	for _, e := range spec.entities {
		for _, o := range e.orders {
			dir := " ASC"
			if o.desc {
				dir = " DESC"
			}
			ent := o.ent // an entityname order sorts by the linked column
			expr, byValue := b.s.orderExpr(ent, o.col, spec.rawOrder)
			orderSQL = append(orderSQL, expr+dir)
			if ent != root || !byValue {
				// Cookies carry stored values of the root's columns; a
				// linked column, a label or a name cannot be resumed from.
				cookieOK = false
			} else if o.col.LogicalName != root.t.PrimaryID {
				plan.order = append(plan.order, orderKey{col: o.col, desc: o.desc})
			}
			if !spec.distinct {
				add(ent, o.col.LogicalName)
			}
		}
	}
	if !spec.distinct {
		pk, _ := root.t.Column(root.t.PrimaryID)
		orderSQL = append(orderSQL, colSQL(root, pk)+" ASC")
	}
	pageSize, page := maxFetchPageSize, 1
	if spec.count > 0 {
		pageSize = spec.count
	}
	if spec.page > 0 {
		page = spec.page
	}
	paging := true
	if spec.top > 0 {
		pageSize, paging = spec.top, false
	}
	args := append([]any(nil), b.args...)
	baseWhere := where
	offset := (page - 1) * pageSize
	if cookieOK && spec.pagingCookie != "" && page > 1 {
		// A cookie is used only for the page right after the one it came
		// from; otherwise Dataverse falls back to simple paging
		// (page-results.md).
		if cur, err := plan.decodeInnerCookie(spec.pagingCookie); err == nil && cur.page == page-1 {
			ks, kargs := plan.keysetSQL(cur)
			if where != "" {
				where = "(" + where + ") AND " + ks
			} else {
				where = ks
			}
			args = append(args, kargs...)
			offset = 0
		}
	}
	quoted := make([]string, len(sel))
	for i, c := range sel {
		quoted[i] = c.ent.sqlAlias + "." + quoteIdent(c.name)
	}
	distinct := ""
	if spec.distinct {
		distinct = "DISTINCT "
	}
	stmt := "SELECT " + distinct + strings.Join(quoted, ", ") + " FROM " + from
	if where != "" {
		stmt += " WHERE " + where
	}
	if len(orderSQL) > 0 {
		stmt += " ORDER BY " + strings.Join(orderSQL, ", ")
	}
	stmt += fmt.Sprintf(" LIMIT %d OFFSET %d", pageSize+1, offset)

	total := -1
	if spec.totalCount || q.Count {
		countStmt := "SELECT COUNT(*) FROM (SELECT " + distinct + strings.Join(quoted, ", ") + " FROM " + from
		if baseWhere != "" {
			countStmt += " WHERE " + baseWhere
		}
		countStmt += fmt.Sprintf(" LIMIT %d)", countLimit+1)
		if err := s.store.reader(ctx).QueryRowContext(ctx, countStmt, b.args...).Scan(&total); err != nil {
			writeError(w, err)
			return
		}
	}

	rs, err := s.store.reader(ctx).QueryContext(ctx, stmt, args...)
	if err != nil {
		writeError(w, err)
		return
	}
	defer rs.Close()
	vals := make([]any, len(sel))
	ptrs := make([]any, len(sel))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	type fetched struct{ byEnt map[*fetchEntity]row }
	var rows []fetched
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			writeError(w, err)
			return
		}
		f := fetched{byEnt: map[*fetchEntity]row{}}
		for _, e := range spec.entities {
			var names []string
			var ev []any
			for i, c := range sel {
				if c.ent == e {
					names = append(names, c.name)
					ev = append(ev, vals[i])
				}
			}
			f.byEnt[e] = scanRow(e.t, names, ev)
		}
		rows = append(rows, f)
	}
	if err := rs.Err(); err != nil {
		writeError(w, err)
		return
	}
	more := len(rows) > pageSize
	if more {
		rows = rows[:pageSize]
	}
	countRecords(ctx, len(rows))
	var all []row
	for _, f := range rows {
		for _, r := range f.byEnt {
			all = append(all, r)
		}
	}
	names, err := s.lookupNames(ctx, &readPlan{ann: ann}, all)
	if err != nil {
		writeError(w, err)
		return
	}

	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	writeJSONValue(&buf, baseURL(r)+"$metadata#"+t.EntitySetName)
	if q.Count && total >= 0 {
		fmt.Fprintf(&buf, `,"@odata.count":%d`, min(total, countLimit))
	}
	if spec.totalCount {
		fmt.Fprintf(&buf, `,"@%s":%d,"@%s":%t`, annTotalCount, min(total, countLimit), annCountLimited, total > countLimit)
	}
	// The cookie comes only while more records follow: clients such as
	// dynamics-web-api's fetchAll page for as long as it is present.
	if paging && cookieOK && more && len(rows) > 0 && ann.wants(annFetchCookie) {
		inner := plan.innerCookie(page, rows[0].byEnt[root], rows[len(rows)-1].byEnt[root])
		cookie := fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="False" />`, page+1, cookieEscape(cookieEscape(inner)))
		buf.WriteString(`,"@` + annFetchCookie + `":`)
		writeJSONValue(&buf, cookie)
	}
	if ann.wants(annMoreRecords) {
		fmt.Fprintf(&buf, `,"@%s":%t`, annMoreRecords, paging && more)
	}
	buf.WriteString(`,"value":[`)
	for i, f := range rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('{')
		first := true
		prop := func(name string, v any) {
			if !first {
				buf.WriteByte(',')
			}
			first = false
			writeJSONValue(&buf, name)
			buf.WriteByte(':')
			writeJSONValue(&buf, v)
		}
		rootRow := f.byEnt[root]
		if v, ok := rootRow[colVersion]; ok && v != nil {
			prop("@odata.etag", etag(rootRow))
		}
		wrotePK := false
		for _, o := range out {
			v := f.byEnt[o.ent][o.col.LogicalName]
			if v == nil {
				continue // FetchXML leaves out null values (use-fetchxml-web-api.md)
			}
			if o.ent == root && o.col.LogicalName == root.t.PrimaryID {
				wrotePK = true
			}
			if lv, ok := v.(lookupValue); ok {
				if n, ok := names[lv.Target][lv.ID]; ok && ann.wants(annFormatted) {
					prop(o.name+"@"+annFormatted, n)
				}
				if ann.wants(annAssociated) {
					prop(o.name+"@"+annAssociated, o.col.NavigationProperty(lv.Target))
				}
				if ann.wants(annLookupName) {
					prop(o.name+"@"+annLookupName, lv.Target)
				}
				v = lv.ID
			} else if ann.wants(annFormatted) {
				if fv, ok := formattedValue(o.col, v); ok {
					prop(o.name+"@"+annFormatted, fv)
				}
			}
			prop(o.name, v)
		}
		if !wrotePK && !spec.distinct {
			prop(root.t.PrimaryID, rootRow[root.t.PrimaryID])
		}
		buf.WriteByte('}')
	}
	buf.WriteString("]}")
	writeJSONBytes(w, http.StatusOK, buf.Bytes())
}

// orderExpr is what an order element sorts by (order-rows.md, "Ordering
// lookup and choice columns"): a choice column by its label unless
// useraworderby is set, a lookup by the primary name of the related row,
// anything else by its value. byValue reports the plain-value case.
func (s *Server) orderExpr(e *fetchEntity, c *schema.Column, raw bool) (string, bool) {
	cs := colSQL(e, c)
	switch {
	case c.Type.IsChoice() && !raw && len(c.Options) > 0:
		var b strings.Builder
		b.WriteString("CASE " + cs)
		for _, o := range c.Options {
			fmt.Fprintf(&b, " WHEN %d THEN '%s'", o.Value, strings.ReplaceAll(o.Label, "'", "''"))
		}
		b.WriteString(" END")
		return b.String(), false
	case c.Type.IsLookup():
		var names []string
		for _, target := range c.Targets {
			t, ok := s.reg.Table(target)
			if !ok || t.PrimaryName == "" {
				continue
			}
			cond := quoteIdent(t.PrimaryID) + " = " + cs
			if len(c.Targets) > 1 {
				cond += " AND " + e.sqlAlias + "." + quoteIdent(c.LogicalName+targetSufix) + " = '" + target + "'"
			}
			names = append(names, "(SELECT "+quoteIdent(t.PrimaryName)+" FROM "+sqlTable(t)+" WHERE "+cond+")")
		}
		if len(names) == 0 {
			return cs, true
		}
		if len(names) == 1 {
			return names[0], false
		}
		return "COALESCE(" + strings.Join(names, ", ") + ")", false
	}
	return cs, true
}

// cookieEscape percent-encodes like Dataverse's paging cookies: every byte
// but letters, digits and -_.~ as lower-case %xx, spaces as %20 (never '+',
// which decodeURIComponent would keep).
func cookieEscape(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// aggregatePlan turns an aggregate FetchXML query into the shared
// aggregate plan (fetchxml/aggregate-data.md).
func (b *fetchSQL) aggregatePlan(from, where string) (*aggPlan, error) {
	spec := b.spec
	p := &aggPlan{from: from, where: where, args: b.args, recordLimit: aggregateRecordLimit}
	if spec.aggregateLimit > 0 {
		p.recordLimit = spec.aggregateLimit
	}
	aliases := map[string]bool{}
	for _, e := range spec.entities {
		for _, a := range e.attrs {
			if aliases[a.alias] {
				return nil, fetchSchemaError("The alias '%s' is used by more than one attribute.", a.alias)
			}
			aliases[a.alias] = true
			cs := colSQL(e, a.col)
			c := aggColumn{name: a.alias, col: a.col}
			switch {
			case a.groupBy && a.dateGrouping != "":
				c.kind, c.sql = "date", dateGroupSQL(cs, a.dateGrouping)
			case a.groupBy:
				c.kind, c.sql = "group", cs
				if a.col.Type.IsLookup() {
					c.targetSQL = e.sqlAlias + "." + quoteIdent(a.col.LogicalName+targetSufix)
				}
			case a.aggregate == "count":
				c.kind, c.sql = "count", "COUNT(*)"
			case a.aggregate == "countcolumn" && a.distinct:
				c.kind, c.sql = "count", "COUNT(DISTINCT "+cs+")"
			case a.aggregate == "countcolumn":
				c.kind, c.sql = "count", "COUNT("+cs+")"
			default:
				if err := checkAggregatable(e.t, a.col, a.aggregate); err != nil {
					return nil, err
				}
				c.kind = a.aggregate
				c.sql = aggregateSQL(a.aggregate, cs, a.col)
			}
			p.cols = append(p.cols, c)
		}
	}
	for _, e := range spec.entities {
		for _, o := range e.orders {
			if !aliases[o.alias] {
				return nil, fetchSchemaError("The order alias '%s' names no attribute of the query.", o.alias)
			}
			p.order = append(p.order, aggOrder{name: o.alias, desc: o.desc})
		}
	}
	p.limit = maxFetchPageSize
	if spec.top > 0 {
		p.limit = spec.top
	} else if spec.count > 0 {
		p.limit = spec.count
		if spec.page > 1 {
			p.offset = (spec.page - 1) * spec.count
		}
	}
	return p, nil
}

// dateGroupSQL extracts a part of a stored date (aggregate-data.md,
// "Grouping by parts of a date"). week follows SQL Server's DATEPART(week):
// weeks start on Sunday and week 1 holds January 1.
func dateGroupSQL(cs, part string) string {
	switch part {
	case "day":
		return "CAST(strftime('%d', " + cs + ") AS INTEGER)"
	case "month":
		return "CAST(strftime('%m', " + cs + ") AS INTEGER)"
	case "quarter":
		return "((CAST(strftime('%m', " + cs + ") AS INTEGER) + 2) / 3)"
	case "year":
		return "CAST(strftime('%Y', " + cs + ") AS INTEGER)"
	default: // week
		return "((CAST(strftime('%j', " + cs + ") AS INTEGER) + CAST(strftime('%w', date(" + cs + ", 'start of year')) AS INTEGER) - 1) / 7 + 1)"
	}
}

func isNumeric(c *schema.Column) bool {
	switch c.Type {
	case schema.TypeInteger, schema.TypeBigInt, schema.TypeDecimal, schema.TypeDouble, schema.TypeMoney:
		return true
	}
	return false
}

func isIntegral(c *schema.Column) bool {
	return c.Type == schema.TypeInteger || c.Type == schema.TypeBigInt
}

// checkAggregatable refuses sum/avg on columns that are not numbers, and
// min/max on columns that have no order (Dataverse aggregates numbers, and
// min/max also dates).
func checkAggregatable(t *schema.Table, c *schema.Column, fn string) error {
	switch fn {
	case "sum", "avg":
		if isNumeric(c) {
			return nil
		}
	case "min", "max":
		if isNumeric(c) || c.Type == schema.TypeDateTime || c.Type == schema.TypeDateOnly {
			return nil
		}
	}
	return badRequest(codeInvalidArgument, "The aggregate function '%s' is not valid for the attribute '%s' of type %s on '%s'.", fn, c.LogicalName, c.Type, t.LogicalName)
}

// aggregateSQL renders sum/avg/min/max. The average of a whole-number
// column is a whole number, truncated, as SQL Server computes it (the
// example in aggregate-data.md averages 35,200 over 9 rows to 3,911).
func aggregateSQL(fn, cs string, c *schema.Column) string {
	switch fn {
	case "avg", "average":
		if isIntegral(c) {
			return "CAST(AVG(" + cs + ") AS INTEGER)"
		}
		return "AVG(" + cs + ")"
	case "sum":
		return "SUM(" + cs + ")"
	case "min":
		return "MIN(" + cs + ")"
	default:
		return "MAX(" + cs + ")"
	}
}

// aggOrder sorts aggregate rows by an output property.
type aggOrder struct {
	name string
	desc bool
}

// aggColumn is one output property of an aggregate query.
type aggColumn struct {
	sql       string
	name      string
	col       *schema.Column // source column; nil for $count
	kind      string         // group, date, count, sum, avg, min, max
	targetSQL string         // for a lookup group: its target column
}

// aggPlan is an aggregate query, from FetchXML or $apply.
type aggPlan struct {
	from, where string
	args        []any
	cols        []aggColumn
	order       []aggOrder
	limit       int
	offset      int
	recordLimit int
}

// serveAggregate runs an aggregate query after checking the 50,000-record
// limit on the rows it aggregates (fetchxml/aggregate-data.md, Limitations;
// webapi/query/aggregate-data.md).
func (s *Server) serveAggregate(w http.ResponseWriter, r *http.Request, t *schema.Table, p *aggPlan, ann annotationFilter) {
	ctx := r.Context()
	countStmt := "SELECT COUNT(*) FROM (SELECT 1 FROM " + p.from
	if p.where != "" {
		countStmt += " WHERE " + p.where
	}
	countStmt += fmt.Sprintf(" LIMIT %d)", p.recordLimit+1)
	var n int
	if err := s.store.reader(ctx).QueryRowContext(ctx, countStmt, p.args...).Scan(&n); err != nil {
		writeError(w, err)
		return
	}
	if n > p.recordLimit {
		writeError(w, aggregateLimitExceeded())
		return
	}
	rows, err := s.runAggregate(ctx, p)
	if err != nil {
		writeError(w, err)
		return
	}
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	writeJSONValue(&buf, baseURL(r)+"$metadata#"+t.EntitySetName)
	buf.WriteString(`,"value":[`)
	for i, vals := range rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('{')
		first := true
		for j, c := range p.cols {
			v := vals[j]
			if v == nil {
				continue // null values are left out, as in the documented responses
			}
			emit := func(name string, v any) {
				if !first {
					buf.WriteByte(',')
				}
				first = false
				writeJSONValue(&buf, name)
				buf.WriteByte(':')
				writeJSONValue(&buf, v)
			}
			if lv, ok := v.(lookupValue); ok {
				if ann.wants(annLookupName) {
					emit(c.name+"@"+annLookupName, lv.Target)
				}
				emit(c.name, lv.ID)
				continue
			}
			if ann.wants(annFormatted) {
				if fv, ok := aggFormatted(c, v); ok {
					emit(c.name+"@"+annFormatted, fv)
				}
			}
			emit(c.name, v)
		}
		buf.WriteByte('}')
	}
	buf.WriteString("]}")
	writeJSONBytes(w, http.StatusOK, buf.Bytes())
}

func aggFormatted(c aggColumn, v any) (string, bool) {
	switch c.kind {
	case "count", "date":
		n, _ := v.(int64)
		return groupDigitString(strconv.FormatInt(n, 10)), true
	}
	if c.col == nil {
		return "", false
	}
	return formattedValue(c.col, v)
}

// runAggregate runs the plan and types each value by its column.
func (s *Server) runAggregate(ctx context.Context, p *aggPlan) ([][]any, error) {
	// Columns get internal SQL aliases: an output name such as
	// "statuscode" would be ambiguous in GROUP BY beside joined tables.
	var sel, groups []string
	sqlAlias := map[string]string{}
	for i, c := range p.cols {
		a := fmt.Sprintf("_c%d", i)
		sqlAlias[c.name] = a
		sel = append(sel, c.sql+" AS "+a)
		if c.kind == "group" || c.kind == "date" {
			groups = append(groups, a)
		}
		if c.targetSQL != "" {
			sel = append(sel, "MAX("+c.targetSQL+") AS "+quoteIdent(fmt.Sprintf("_target%d", i)))
		}
	}
	stmt := "SELECT " + strings.Join(sel, ", ") + " FROM " + p.from
	if p.where != "" {
		stmt += " WHERE " + p.where
	}
	if len(groups) > 0 {
		stmt += " GROUP BY " + strings.Join(groups, ", ")
	}
	var order []string
	for _, o := range p.order {
		dir := " ASC"
		if o.desc {
			dir = " DESC"
		}
		order = append(order, sqlAlias[o.name]+dir)
	}
	if len(order) == 0 && len(groups) > 0 {
		order = groups
	}
	if len(order) > 0 {
		stmt += " ORDER BY " + strings.Join(order, ", ")
	}
	if p.limit > 0 {
		stmt += fmt.Sprintf(" LIMIT %d OFFSET %d", p.limit, p.offset)
	}
	rs, err := s.store.reader(ctx).QueryContext(ctx, stmt, p.args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out [][]any
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]any, len(p.cols))
		k := 0
		for i, c := range p.cols {
			v := vals[k]
			k++
			target := ""
			if c.targetSQL != "" {
				target = asString(vals[k])
				k++
			}
			row[i] = aggValue(c, v, target)
		}
		out = append(out, row)
	}
	return out, rs.Err()
}

// aggValue types one aggregate result.
func aggValue(c aggColumn, v any, target string) any {
	if v == nil {
		return nil
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch c.kind {
	case "count", "date":
		return v
	case "group", "min", "max", "sum", "avg":
		col := c.col
		if col == nil {
			return v
		}
		switch {
		case col.Type.IsLookup():
			if target == "" && len(col.Targets) > 0 {
				target = col.Targets[0]
			}
			return lookupValue{ID: asString(v), Target: target}
		case col.Type == schema.TypeBoolean:
			n, _ := v.(int64)
			return n != 0
		case col.Type == schema.TypeDecimal || col.Type == schema.TypeDouble || col.Type == schema.TypeMoney:
			if n, ok := v.(int64); ok {
				return float64(n)
			}
		}
	}
	return v
}
