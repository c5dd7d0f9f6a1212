package odooserver

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Grouping: read_group (16–19, deprecated in 19) and its 19 successor
// formatted_read_group, computed in memory over the records a domain
// selects, with the aggregate functions of Odoo's READ_GROUP_AGGREGATE
// (sum, avg, min, max, count, count_distinct, bool_and, bool_or,
// array_agg).

type groupSpec struct {
	spec  string // as the caller wrote it, e.g. "create_date:month"
	f     *fieldDef
	gran  string // date/datetime granularity
	model string
}

type aggSpec struct {
	alias string
	f     *fieldDef // nil for __count
	fn    string
}

var aggFuncs = map[string]bool{"sum": true, "avg": true, "min": true, "max": true, "count": true,
	"count_distinct": true, "bool_and": true, "bool_or": true, "array_agg": true}

var granularities = map[string]bool{"day": true, "week": true, "month": true, "quarter": true, "year": true}

// parseGroupSpec reads "field" or "field:granularity". read_group (legacy)
// groups dates by month when no granularity is given; formatted_read_group
// refuses that (19 test_formatted_read_group.py test_malformed_params).
func parseGroupSpec(m *modelDef, spec string, legacy bool) (groupSpec, error) {
	name, gran, _ := strings.Cut(spec, ":")
	f, ok := m.fields[name]
	if !ok {
		return groupSpec{}, errValue("Invalid field %s on model %s", pyRepr(name), pyRepr(m.name))
	}
	if !f.stored() {
		return groupSpec{}, errValue("Field %s is not a stored field, only stored fields (regular or many2many) are valid for the 'groupby' parameter", pyRepr(m.name+"."+name))
	}
	if f.typ == tDate || f.typ == tDatetime {
		if gran == "" && !legacy {
			return groupSpec{}, errValue("Granularity missing for date/datetime field %s", pyRepr(spec))
		}
		if gran == "" {
			gran = "month"
		}
		if !granularities[gran] {
			return groupSpec{}, errValue("Granularity '%s' is invalid for field %s", gran, pyRepr(name))
		}
	} else if gran != "" {
		return groupSpec{}, errValue("Granularity set on a no-datetime field or property: %s", pyRepr(spec))
	}
	return groupSpec{spec: spec, f: f, gran: gran, model: m.name}, nil
}

// aggPattern is models.py's regex_field_agg: "field", "field:agg" or
// "alias:agg(field)".
var aggPattern = regexp.MustCompile(`^(\w+)(?::(\w+)(?:\((\w+)\))?)?$`)

func parseAggSpec(m *modelDef, spec string, legacy bool) (aggSpec, bool, error) {
	if spec == "__count" {
		return aggSpec{alias: "__count", fn: "count"}, true, nil
	}
	g := aggPattern.FindStringSubmatch(spec)
	if g == nil {
		return aggSpec{}, false, errValue("Invalid aggregate specification %s", pyRepr(spec))
	}
	alias, fn, fname := g[1], g[2], g[1]
	if g[3] != "" {
		if !legacy {
			// formatted_read_group has no "alias:func(field)" form.
			return aggSpec{}, false, errValue("Invalid aggregate specification %s", pyRepr(spec))
		}
		fname = g[3]
	}
	f, ok := m.fields[fname]
	if !ok {
		if !legacy {
			return aggSpec{}, false, errValue("Invalid field %s on model %s for %s.", pyRepr(fname), pyRepr(m.name), pyRepr(spec))
		}
		return aggSpec{}, false, errValue("Invalid field %s on model %s", pyRepr(fname), pyRepr(m.name))
	}
	if fn == "" {
		if !legacy {
			return aggSpec{}, false, errValue("Invalid aggregate specification %s", pyRepr(spec))
		}
		// A bare field in read_group's fields aggregates with its default
		// aggregator (sum for numbers); others are left out.
		if f.typ != tInteger && f.typ != tFloat {
			return aggSpec{}, false, nil
		}
		fn = "sum"
	}
	if !aggFuncs[fn] {
		return aggSpec{}, false, errValue("Invalid aggregation function %s.", pyRepr(fn))
	}
	if legacy {
		return aggSpec{alias: alias, f: f, fn: fn}, true, nil
	}
	return aggSpec{alias: spec, f: f, fn: fn}, true, nil
}

// groupRow is one group: its key values (storage form; time for dates)
// and its records.
type groupRow struct {
	keys []any
	recs []*record
}

// groupKeys lists the key values one record falls under for spec: many2many
// records fall under each related id (or False).
func (srv *Server) groupKeys(m *modelDef, g groupSpec, r *record) []any {
	s := srv.store
	if g.f.name == "id" {
		return []any{r.id}
	}
	v := s.value(m, g.f, r)
	switch g.f.typ {
	case tMany2many:
		ids := relatedIDs(s, m, g.f, r)
		if len(ids) == 0 {
			return []any{nil}
		}
		out := make([]any, len(ids))
		for i, id := range ids {
			out[i] = id
		}
		return out
	case tMany2one:
		if id, _ := v.(int); id != 0 {
			return []any{id}
		}
		return []any{nil}
	case tDate, tDatetime:
		str, _ := v.(string)
		if str == "" {
			return []any{nil}
		}
		t, err := time.Parse(odooDatetime[:len(str)], str)
		if err != nil {
			return []any{nil}
		}
		start, _ := srv.truncateDate(t, g.gran)
		return []any{start}
	}
	if isEmptyScalar(g.f, v) && g.f.typ != tBoolean && g.f.typ != tInteger && g.f.typ != tFloat {
		return []any{nil}
	}
	if v == nil && g.f.typ == tBoolean {
		return []any{false}
	}
	return []any{v}
}

func (srv *Server) groupRecords(m *modelDef, recs []*record, specs []groupSpec) []*groupRow {
	index := map[string]*groupRow{}
	var rows []*groupRow
	for _, r := range recs {
		combos := [][]any{{}}
		for _, g := range specs {
			var next [][]any
			for _, k := range srv.groupKeys(m, g, r) {
				for _, c := range combos {
					next = append(next, append(slices.Clone(c), k))
				}
			}
			combos = next
		}
		for _, keys := range combos {
			id := fmt.Sprintf("%#v", keys)
			row := index[id]
			if row == nil {
				row = &groupRow{keys: keys}
				index[id] = row
				rows = append(rows, row)
			}
			row.recs = append(row.recs, r)
		}
	}
	return rows
}

func (srv *Server) aggregate(m *modelDef, a aggSpec, recs []*record) any {
	if a.f == nil {
		return len(recs)
	}
	s := srv.store
	var vals []any
	for _, r := range recs {
		v := s.value(m, a.f, r)
		if a.f.name == "id" {
			v = r.id
		}
		if a.f.typ == tMany2many {
			for _, id := range relatedIDs(s, m, a.f, r) {
				vals = append(vals, id)
			}
			continue
		}
		if v == nil || (a.f.typ == tMany2one && v == 0) {
			continue
		}
		vals = append(vals, v)
	}
	switch a.fn {
	case "count":
		return len(vals)
	case "count_distinct":
		seen := map[any]bool{}
		for _, v := range vals {
			seen[fmt.Sprint(v)] = true
		}
		return len(seen)
	case "array_agg":
		if vals == nil {
			return []any{}
		}
		return vals
	case "bool_and", "bool_or":
		and := a.fn == "bool_and"
		out := and
		for _, v := range vals {
			if and {
				out = out && truthy(v)
			} else {
				out = out || truthy(v)
			}
		}
		return out
	}
	if len(vals) == 0 {
		return false // SQL NULL
	}
	switch a.fn {
	case "sum", "avg":
		sum := 0.0
		for _, v := range vals {
			f, _ := toFloat(v)
			sum += f
		}
		if a.fn == "avg" {
			return sum / float64(len(vals))
		}
		if a.f.typ == tInteger {
			return int(sum)
		}
		return sum
	case "min", "max":
		best := vals[0]
		for _, v := range vals[1:] {
			c := compareStored(v, best)
			if (a.fn == "min" && c < 0) || (a.fn == "max" && c > 0) {
				best = v
			}
		}
		return best
	}
	return false
}

// groupValue renders a key as read_group shows it.
func (srv *Server) groupValue(g groupSpec, key any, formatted bool) any {
	s := srv.store
	if key == nil {
		return false
	}
	if g.f.name == "id" {
		// Grouping by id shows each record's display name (19
		// test_formatted_read_group.py test_groupby_id).
		m := s.models[g.model]
		if r := s.tables[g.model].byID[key.(int)]; r != nil && m != nil {
			return []any{r.id, s.displayName(m, r)}
		}
		return key
	}
	switch g.f.typ {
	case tMany2one, tMany2many:
		cm, ct, _ := s.model(g.f.relation)
		if r := ct.byID[key.(int)]; r != nil {
			return []any{r.id, s.displayName(cm, r)}
		}
		return false
	case tDate, tDatetime:
		t := key.(time.Time)
		if formatted {
			return []any{t.Format(odooDatetime[:len(dateFormatFor(g.f))]), srv.dateLabel(t, g.gran)}
		}
		return srv.dateLabel(t, g.gran)
	}
	return key
}

func dateFormatFor(f *fieldDef) string {
	if f.typ == tDate {
		return "2006-01-02"
	}
	return odooDatetime
}

// groupDomain is the domain selecting one group's records.
func (srv *Server) groupDomain(specs []groupSpec, keys []any) []any {
	var out []any
	for i, g := range specs {
		switch k := keys[i].(type) {
		case nil:
			out = append(out, []any{g.f.name, "=", false})
		case time.Time:
			_, end := srv.truncateDate(k, g.gran)
			layout := dateFormatFor(g.f)
			out = append(out, "&", []any{g.f.name, ">=", k.Format(layout)}, []any{g.f.name, "<", end.Format(layout)})
		default:
			out = append(out, []any{g.f.name, "=", k})
		}
	}
	return out
}

// sortGroups orders groups by the order spec, defaulting to the groupby
// fields ascending; many2one keys follow the comodel's _order as the SQL
// join Odoo builds does; empty groups sort last.
func (srv *Server) sortGroups(m *modelDef, rows []*groupRow, specs []groupSpec, aggs []aggSpec, order string) error {
	type key struct {
		idx  int // groupby index, or -1 for an aggregate
		agg  aggSpec
		desc bool
	}
	var keys []key
	if strings.TrimSpace(order) == "" {
		for i := range specs {
			keys = append(keys, key{idx: i})
		}
	}
	for part := range strings.SplitSeq(order, ",") {
		words := strings.Fields(part)
		if len(words) == 0 {
			continue
		}
		k := key{idx: -1}
		if len(words) > 1 {
			switch strings.ToLower(words[1]) {
			case "desc":
				k.desc = true
			case "asc":
			default:
				return errValue("Invalid order %s for model %s", pyRepr(order), pyRepr(m.name))
			}
		}
		found := false
		for i, g := range specs {
			if g.spec == words[0] || g.f.name == words[0] {
				k.idx, found = i, true
				break
			}
		}
		if !found {
			for _, a := range aggs {
				if a.alias == words[0] || (a.f != nil && a.f.name == words[0]) {
					k.agg, found = a, true
					break
				}
			}
		}
		if !found && words[0] == "__count" {
			k.agg, found = aggSpec{alias: "__count", fn: "count"}, true
		}
		if !found {
			return errValue("Order a field (%s) not present in groupby or aggregates", pyRepr(words[0]))
		}
		keys = append(keys, k)
	}
	// The groupby fields still order what the given order leaves tied.
	for i := range specs {
		if !slices.ContainsFunc(keys, func(k key) bool { return k.idx == i }) {
			keys = append(keys, key{idx: i})
		}
	}
	s := srv.store
	slices.SortStableFunc(rows, func(a, b *groupRow) int {
		for _, k := range keys {
			var c int
			if k.idx >= 0 {
				g := specs[k.idx]
				x, y := a.keys[k.idx], b.keys[k.idx]
				switch {
				case x == nil && y == nil:
				case x == nil:
					c = 1
				case y == nil:
					c = -1
				default:
					switch xv := x.(type) {
					case time.Time:
						c = xv.Compare(y.(time.Time))
					case int:
						if g.f.typ == tMany2one || g.f.typ == tMany2many {
							cm, ct, _ := s.model(g.f.relation)
							ok, _ := parseOrder(cm, cm.order)
							c = compareRecords(cm, ok, ct.byID[xv], ct.byID[y.(int)])
						} else {
							c = cmp.Compare(xv, y.(int))
						}
					default:
						c = compareStored(x, y)
					}
				}
			} else {
				c = compareStored(srv.aggregate(m, k.agg, a.recs), srv.aggregate(m, k.agg, b.recs))
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	return nil
}

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// readGroup is BaseModel.read_group(domain, fields, groupby, offset,
// limit, orderby, lazy): with lazy (the default) only the first groupby
// level is grouped, the count is "<field>_count" and "__context" carries
// the remaining levels; otherwise the count is "__count".
func (srv *Server) readGroup(c *call, m *modelDef, t *table) (any, error) {
	groupby := stringList(c.args["groupby"])
	lazy := true
	if v, ok := c.args["lazy"]; ok {
		lazy = truthy(v)
	}
	active := groupby
	if lazy && len(groupby) > 1 {
		active = groupby[:1]
	}
	var specs []groupSpec
	for _, g := range active {
		gs, err := parseGroupSpec(m, g, true)
		if err != nil {
			return nil, err
		}
		specs = append(specs, gs)
	}
	var aggs []aggSpec
	for _, f := range stringList(c.args["fields"]) {
		if slices.Contains(groupby, f) || (len(specs) > 0 && strings.Split(f, ":")[0] == specs[0].f.name && !strings.Contains(f, ":")) {
			continue
		}
		a, ok, err := parseAggSpec(m, f, true)
		if err != nil {
			return nil, err
		}
		if ok && a.alias != "__count" {
			aggs = append(aggs, a)
		}
	}
	rows, err := srv.groupRows(c, m, t, specs, aggs, c.stringArg("orderby"))
	if err != nil {
		return nil, err
	}
	countKey := "__count"
	if lazy && len(specs) > 0 {
		countKey = specs[0].f.name + "_count"
	}
	domain, _ := c.args["domain"].([]any)
	out := make([]any, 0, len(rows))
	for _, row := range rows {
		g := map[string]any{countKey: len(row.recs)}
		ranges := map[string]any{}
		for i, gs := range specs {
			g[gs.spec] = srv.groupValue(gs, row.keys[i], false)
			if tm, ok := row.keys[i].(time.Time); ok {
				_, end := srv.truncateDate(tm, gs.gran)
				layout := dateFormatFor(gs.f)
				ranges[gs.spec] = map[string]any{"from": tm.Format(layout), "to": end.Format(layout)}
			}
		}
		for _, a := range aggs {
			g[a.alias] = srv.aggregate(m, a, row.recs)
		}
		g["__domain"] = andDomains(srv.groupDomain(specs, row.keys), domain)
		if len(ranges) > 0 {
			g["__range"] = ranges
		}
		if lazy && len(groupby) > 1 {
			g["__context"] = map[string]any{"group_by": toAnyStrings(groupby[1:])}
		}
		out = append(out, g)
	}
	return out, nil
}

// formattedReadGroup is 19's formatted_read_group(domain, groupby,
// aggregates, having, offset, limit, order) (addons/web/models/models.py):
// one dict per group with the groupby values, the asked aggregates keyed by
// their spec ("__count", "field:sum") and "__extra_domain".
func (srv *Server) formattedReadGroup(c *call, m *modelDef, t *table) (any, error) {
	if h, ok := c.args["having"].([]any); ok && len(h) > 0 {
		return nil, errValue("The reference server does not implement 'having' in formatted_read_group")
	}
	var specs []groupSpec
	for _, g := range stringList(c.args["groupby"]) {
		gs, err := parseGroupSpec(m, g, false)
		if err != nil {
			return nil, err
		}
		specs = append(specs, gs)
	}
	var aggs []aggSpec
	for _, f := range stringList(c.args["aggregates"]) {
		a, _, err := parseAggSpec(m, f, false)
		if err != nil {
			return nil, err
		}
		aggs = append(aggs, a)
	}
	rows, err := srv.groupRows(c, m, t, specs, aggs, c.stringArg("order"))
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(rows))
	for _, row := range rows {
		g := map[string]any{}
		for i, gs := range specs {
			g[gs.spec] = srv.groupValue(gs, row.keys[i], true)
		}
		for _, a := range aggs {
			g[a.alias] = srv.aggregate(m, a, row.recs)
		}
		g["__extra_domain"] = normalizeDomain(srv.groupDomain(specs, row.keys))
		out = append(out, g)
	}
	return out, nil
}

// groupRows selects, groups, orders and pages.
func (srv *Server) groupRows(c *call, m *modelDef, t *table, specs []groupSpec, aggs []aggSpec, order string) ([]*groupRow, error) {
	sc := c.sub("search", map[string]any{"domain": c.args["domain"]})
	recs, err := srv.search(m, t, sc)
	if err != nil {
		return nil, err
	}
	var rows []*groupRow
	if len(specs) == 0 {
		rows = []*groupRow{{recs: recs}}
	} else {
		rows = srv.groupRecords(m, recs, specs)
	}
	if err := srv.sortGroups(m, rows, specs, aggs, order); err != nil {
		return nil, err
	}
	offset, err := c.intArg("offset")
	if err != nil {
		return nil, err
	}
	limit, err := c.intArg("limit")
	if err != nil {
		return nil, err
	}
	if offset >= len(rows) {
		return nil, nil
	}
	rows = rows[offset:]
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	return rows, nil
}

func toAnyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
