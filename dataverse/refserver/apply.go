package refserver

import (
	"net/http"
	"strings"
	"time"

	"github.com/dvsync/dvsync/dataverse/odata"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// getApply answers GET /<set>?$apply=… as "Aggregate data using OData"
// (powerapps-docs developer/data-platform/webapi/query/aggregate-data.md)
// shows: groupby over columns and single-valued navigation paths, aggregate
// with sum/average/min/max/countdistinct and $count, filter steps before the
// grouping, and the 50,000-record limit shared with FetchXML aggregates.
func (s *Server) getApply(w http.ResponseWriter, r *http.Request, t *schema.Table, q *odata.Query, pref preferences) {
	if q.Select != nil || q.Expand != nil || q.SkipToken != "" || q.Count {
		writeError(w, badRequest(codeQueryNotSupported, "$apply cannot be combined with $select, $expand, $count or $skiptoken."))
		return
	}
	ctx := r.Context()
	now := time.Now().UTC()
	var filters []string
	var args []any
	addFilter := func(e odata.Expr) error {
		f := &filterSQL{s: s, t: t, alias: "t0", caller: callerFrom(ctx), now: now}
		sql, err := f.translate(e)
		if err != nil {
			return err
		}
		filters = append(filters, sql)
		args = append(args, f.args...)
		return nil
	}
	if q.Filter != nil {
		if err := addFilter(q.Filter); err != nil {
			writeError(w, err)
			return
		}
	}
	p := &aggPlan{recordLimit: aggregateRecordLimit, limit: MaxPageSize}
	from := sqlTable(t) + " t0"
	joins := map[string]string{} // navigation property -> SQL alias
	var last odata.Transformation
	for _, tr := range q.Apply {
		if tr.Kind == odata.TransformFilter {
			if err := addFilter(tr.Filter); err != nil {
				writeError(w, err)
				return
			}
			continue
		}
		last = tr
	}
	groupNames := map[string]bool{}
	groupByPath := map[string]string{} // $orderby path -> output name
	for _, path := range last.GroupBy {
		c, err := s.applyColumn(t, path, joins, &from)
		if err != nil {
			writeError(w, err)
			return
		}
		if c.col.Type == schema.TypeDateTime {
			// aggregate-data.md: "groupby with datetime values is not supported."
			writeError(w, badRequest(codeQueryNotSupported, "groupby with datetime values is not supported."))
			return
		}
		c.kind = "group"
		p.cols = append(p.cols, c)
		groupNames[c.name] = true
		groupByPath[strings.Join(path, "/")] = c.name
	}
	for _, a := range last.Aggregates {
		c := aggColumn{name: a.Alias, kind: "count", sql: "COUNT(*)"}
		if a.Method != odata.AggCount {
			src, err := s.applyColumn(t, a.Path, joins, &from)
			if err != nil {
				writeError(w, err)
				return
			}
			c.col = src.col
			switch a.Method {
			case odata.AggCountDistinct:
				c.sql = "COUNT(DISTINCT " + src.sql + ")"
			default:
				fn := map[odata.AggregateMethod]string{odata.AggSum: "sum", odata.AggAverage: "avg", odata.AggMin: "min", odata.AggMax: "max"}[a.Method]
				if err := checkAggregatable(t, src.col, fn); err != nil {
					writeError(w, err)
					return
				}
				c.kind, c.sql = fn, aggregateSQL(fn, src.sql, src.col)
			}
		}
		if groupNames[c.name] {
			writeError(w, badRequest(codeQueryNotSupported, "The alias '%s' is used twice in $apply.", c.name))
			return
		}
		groupNames[c.name] = true
		p.cols = append(p.cols, c)
	}
	for _, o := range q.OrderBy {
		name, ok := groupByPath[strings.Join(o.Path, "/")]
		if !ok {
			// aggregate-data.md: ordering by an aggregate value fails with
			// this message.
			writeError(w, badRequest(codeQueryNotSupported, "The query node SingleValueOpenPropertyAccess is not supported"))
			return
		}
		p.order = append(p.order, aggOrder{name: name, desc: o.Desc})
	}
	if q.Top != nil {
		p.limit = min(*q.Top, MaxPageSize)
	}
	p.from, p.where, p.args = from, balancedJoin(filters, "AND"), args
	s.serveAggregate(w, r, t, p, newAnnotationFilter(pref.annotations))
}

// applyColumn resolves a $apply property path: a column, a lookup value
// property (_x_value), or nav/column through a single-valued navigation
// property, which joins the related table and names the result
// <table>_<column> as Dataverse does (contact_fullname in aggregate-data.md).
func (s *Server) applyColumn(t *schema.Table, path []string, joins map[string]string, from *string) (aggColumn, error) {
	if len(path) == 1 {
		name := path[0]
		if c, ok := t.Column(name); ok && !c.Type.IsLookup() {
			return aggColumn{sql: "t0." + quoteIdent(c.LogicalName), name: c.LogicalName, col: c}, nil
		}
		if c, ok := t.LookupByValueProperty(name); ok {
			return aggColumn{sql: "t0." + quoteIdent(c.LogicalName), name: c.ValueProperty(), col: c, targetSQL: "t0." + quoteIdent(c.LogicalName+targetSufix)}, nil
		}
		return aggColumn{}, couldNotFindProperty(t, name)
	}
	if len(path) != 2 {
		return aggColumn{}, badRequest(codeQueryNotSupported, "The $apply path '%s' is not supported: use a column or one navigation property and a column.", strings.Join(path, "/"))
	}
	lk, targetName, ok := t.LookupByNavigation(path[0])
	if !ok {
		return aggColumn{}, couldNotFindProperty(t, path[0])
	}
	target, _ := s.reg.Table(targetName)
	c, ok := target.Column(path[1])
	if !ok || c.Type.IsLookup() {
		return aggColumn{}, couldNotFindProperty(target, path[1])
	}
	alias, ok := joins[path[0]]
	if !ok {
		alias = "j" + itoa(int64(len(joins)+1))
		joins[path[0]] = alias
		*from += " LEFT JOIN " + sqlTable(target) + " " + alias + " ON " + alias + "." + quoteIdent(target.PrimaryID) + " = t0." + quoteIdent(lk.LogicalName)
		if len(lk.Targets) > 1 {
			*from += " AND t0." + quoteIdent(lk.LogicalName+targetSufix) + " = '" + target.LogicalName + "'"
		}
	}
	return aggColumn{sql: alias + "." + quoteIdent(c.LogicalName), name: target.LogicalName + "_" + c.LogicalName, col: c}, nil
}
