package odooserver

import (
	"regexp"
	"slices"
	"strings"
	"sync"
)

// A domain is evaluated in memory against stored records. Semantics follow
// odoo/osv/expression.py and research/odoo.md §1.5: prefix '&' '|' '!',
// implicit '&' between top-level terms, dotted paths through relations.
type cond interface {
	eval(s *store, m *modelDef, r *record) bool
}

type andCond []cond
type orCond []cond
type notCond struct{ c cond }
type constCond bool

func (c andCond) eval(s *store, m *modelDef, r *record) bool {
	for _, x := range c {
		if !x.eval(s, m, r) {
			return false
		}
	}
	return true
}

func (c orCond) eval(s *store, m *modelDef, r *record) bool {
	for _, x := range c {
		if x.eval(s, m, r) {
			return true
		}
	}
	return false
}

func (c notCond) eval(s *store, m *modelDef, r *record) bool { return !c.c.eval(s, m, r) }
func (c constCond) eval(*store, *modelDef, *record) bool     { return bool(c) }

var operators = map[string]bool{
	"=": true, "!=": true, "<>": true, ">": true, ">=": true, "<": true, "<=": true, "=?": true,
	"like": true, "not like": true, "ilike": true, "not ilike": true, "=like": true, "=ilike": true,
	"in": true, "not in": true, "child_of": true, "parent_of": true, "any": true, "not any": true,
}

type leaf struct {
	path  []*fieldDef // the relation chain; the last element is compared
	op    string
	val   any
	sub   cond // any / not any
	like  *regexp.Regexp
	depth int // 1, or 1 + the depth of sub
}

// parseDomain turns a wire domain into a condition tree. version gates the
// operators that did not exist yet (any / not any arrived in 17).
//
// Chains of one operator ("|", "|", ..., a, b, c) become one flat node,
// so a long OR of ids costs one level; what still nests deeper than
// maxNesting (alternating operators, stacked "!", "any" inside "any") is
// refused with the RecursionError Odoo's recursive domain code raises,
// because evaluation recurses once per level.
func parseDomain(s *store, m *modelDef, domain any, version int) (cond, error) {
	return parseDomainAt(s, m, domain, version, 0)
}

// condDepth is how deeply a condition nests.
func condDepth(c cond) int {
	switch x := c.(type) {
	case andCond:
		return x.depth()
	case orCond:
		return x.depth()
	case notCond:
		return 1 + condDepth(x.c)
	case *leaf:
		return x.depth
	}
	return 1
}

func (c andCond) depth() int {
	d := 0
	for _, x := range c {
		d = max(d, condDepth(x))
	}
	return d + 1
}

func (c orCond) depth() int {
	d := 0
	for _, x := range c {
		d = max(d, condDepth(x))
	}
	return d + 1
}

func sameOp(op string, c cond) bool {
	if op == "&" {
		_, ok := c.(andCond)
		return ok
	}
	_, ok := c.(orCond)
	return ok
}

// merge builds op(a, b), folding nodes of the same operator together.
// Nodes are consumed once, so appending to them in place is safe.
func merge(op string, a, b cond) cond {
	if op == "&" {
		x, okA := a.(andCond)
		y, okB := b.(andCond)
		switch {
		case okA && okB:
			return append(y, x...)
		case okB:
			return append(y, a)
		case okA:
			return append(x, b)
		}
		return andCond{a, b}
	}
	x, okA := a.(orCond)
	y, okB := b.(orCond)
	switch {
	case okA && okB:
		return append(y, x...)
	case okB:
		return append(y, a)
	case okA:
		return append(x, b)
	}
	return orCond{a, b}
}

func parseDomainAt(s *store, m *modelDef, domain any, version, base int) (cond, error) {
	if domain == nil {
		return andCond{}, nil
	}
	if b, ok := domain.(bool); ok && !b {
		return andCond{}, nil
	}
	items, ok := domain.([]any)
	if !ok {
		return nil, errValue("Invalid domain: %s", pyRepr(domain))
	}
	var stack []cond
	var depths []int // depth of each stack entry, kept alongside
	pop := func() (cond, int, error) {
		if len(stack) == 0 {
			return nil, 0, errValue("Invalid domain: %s", shortRepr(domain))
		}
		c, d := stack[len(stack)-1], depths[len(depths)-1]
		stack, depths = stack[:len(stack)-1], depths[:len(depths)-1]
		return c, d, nil
	}
	push := func(c cond, d int) error {
		if base+d > maxNesting {
			return errXMLTooDeep
		}
		stack, depths = append(stack, c), append(depths, d)
		return nil
	}
	for i := len(items) - 1; i >= 0; i-- {
		switch x := items[i].(type) {
		case string:
			switch x {
			case "!":
				a, d, err := pop()
				if err != nil {
					return nil, err
				}
				if err := push(notCond{a}, d+1); err != nil {
					return nil, err
				}
			case "&", "|":
				a, da, err := pop()
				if err != nil {
					return nil, err
				}
				b, db, err := pop()
				if err != nil {
					return nil, err
				}
				// merge folds a same-operator operand: it keeps its depth
				// and the other operand becomes one of its children.
				sameA, sameB := sameOp(x, a), sameOp(x, b)
				var d int
				switch {
				case sameA && sameB:
					d = max(da, db)
				case sameA:
					d = max(da, db+1)
				case sameB:
					d = max(db, da+1)
				default:
					d = max(da, db) + 1
				}
				if err := push(merge(x, a, b), d); err != nil {
					return nil, err
				}
			default:
				return nil, errValue("Invalid domain term %s", shortRepr(x))
			}
		case []any:
			c, err := parseLeaf(s, m, x, version, base)
			if err != nil {
				return nil, err
			}
			d := 1
			if l, ok := c.(*leaf); ok {
				d = l.depth
			}
			if err := push(c, d); err != nil {
				return nil, err
			}
		default:
			return nil, errValue("Invalid domain term %s", shortRepr(x))
		}
	}
	slices.Reverse(stack)
	if len(stack) == 1 {
		return stack[0], nil
	}
	return andCond(stack), nil
}

// shortRepr is pyRepr cut to a readable length: messages about a bad
// domain must not be as large as the domain.
func shortRepr(v any) string {
	s := pyRepr(v)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func parseLeaf(s *store, m *modelDef, t []any, version, base int) (cond, error) {
	if len(t) != 3 {
		return nil, errValue("Invalid leaf %s", pyRepr(t))
	}
	// TRUE_LEAF (1, '=', 1) and FALSE_LEAF (0, '=', 1).
	if n, ok := asInt(t[0]); ok {
		return constCond(n == 1), nil
	}
	name, ok1 := t[0].(string)
	op, ok2 := t[1].(string)
	if !ok1 || !ok2 {
		return nil, errValue("Invalid leaf %s", pyRepr(t))
	}
	op = strings.ToLower(op)
	if !operators[op] || (version < 17 && (op == "any" || op == "not any")) {
		return nil, errValue("Invalid leaf %s", pyRepr(t))
	}
	l := &leaf{op: op, val: t[2], depth: 1}
	cur := m
	for i, part := range strings.Split(name, ".") {
		f, ok := cur.fields[part]
		if !ok {
			return nil, errValue("Invalid field %s.%s in leaf %s", cur.name, part, pyRepr(t))
		}
		l.path = append(l.path, f)
		if i < strings.Count(name, ".") {
			if f.relation == "" {
				return nil, errValue("Invalid field %s.%s in leaf %s", cur.name, part, pyRepr(t))
			}
			cur = s.models[f.relation]
		}
	}
	last := l.path[len(l.path)-1]
	switch op {
	case "any", "not any":
		if last.relation == "" {
			return nil, errValue("Invalid leaf %s: %s is not relational", pyRepr(t), last.name)
		}
		sub, err := parseDomainAt(s, s.models[last.relation], t[2], version, base+1)
		if err != nil {
			return nil, err
		}
		l.sub, l.depth = sub, 1+condDepth(sub)
	case "like", "not like", "ilike", "not ilike", "=like", "=ilike":
		pattern, _ := t[2].(string)
		if !strings.HasPrefix(op, "=") {
			pattern = "%" + pattern + "%"
		}
		l.like = likeRegexp(pattern, strings.Contains(op, "ilike"))
	case "=", "!=", "<>", "<", "<=", ">", ">=":
		if last.typ == tDatetime {
			l.val = domainDatetime(op, t[2])
		}
	case "in", "not in":
		if _, ok := t[2].([]any); !ok {
			// Odoo accepts a scalar and wraps it (expression.py normalises).
			l.val = []any{t[2]}
		}
	case "child_of", "parent_of":
		if _, ok := cur.fields["parent_id"]; !ok && last.name != "id" && last.relation == "" {
			return nil, errValue("Invalid leaf %s", pyRepr(t))
		}
	}
	return l, nil
}

var likeCache sync.Map

// likeRegexp compiles an SQL LIKE pattern: % is any run, _ one character,
// backslash escapes. Everything else is literal.
func likeRegexp(pattern string, fold bool) *regexp.Regexp {
	key := pattern
	if fold {
		key = "i:" + pattern
	}
	if re, ok := likeCache.Load(key); ok {
		return re.(*regexp.Regexp)
	}
	var b strings.Builder
	if fold {
		b.WriteString("(?is)")
	} else {
		b.WriteString("(?s)")
	}
	b.WriteString("^")
	escaped := false
	for _, r := range pattern {
		switch {
		case escaped:
			b.WriteString(regexp.QuoteMeta(string(r)))
			escaped = false
		case r == '\\':
			escaped = true
		case r == '%':
			b.WriteString(".*")
		case r == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	re := regexp.MustCompile(b.String())
	likeCache.Store(key, re)
	return re
}

func (l *leaf) eval(s *store, m *modelDef, r *record) bool {
	// Walk the relation chain; a path through x2many matches when any of
	// the reached records matches.
	recs := []*record{r}
	cur := m
	for _, f := range l.path[:len(l.path)-1] {
		_, t, _ := s.model(f.relation)
		var next []*record
		for _, x := range recs {
			for _, id := range relatedIDs(s, cur, f, x) {
				if y := t.byID[id]; y != nil {
					next = append(next, y)
				}
			}
		}
		recs, cur = next, s.models[f.relation]
	}
	for _, x := range recs {
		if l.match(s, cur, x) {
			return true
		}
	}
	return false
}

func relatedIDs(s *store, m *modelDef, f *fieldDef, r *record) []int {
	switch f.typ {
	case tMany2one:
		if id, _ := r.vals[f.pos].(int); id != 0 {
			return []int{id}
		}
	case tMany2many:
		if f.mirror != "" {
			return s.mirrorIDs(f, r.id)
		}
		ids, _ := r.vals[f.pos].([]int)
		return ids
	case tOne2many:
		return s.inverse[s.inverseKey(m.name, f)][r.id]
	}
	return nil
}

func (l *leaf) match(s *store, m *modelDef, r *record) bool {
	f := l.path[len(l.path)-1]
	switch f.typ {
	case tMany2one, tMany2many, tOne2many:
		return l.matchRelational(s, m, f, r)
	}
	if (l.op == "child_of" || l.op == "parent_of") && f.name == "id" {
		return hierarchyMatch(s, m, r.id, idList(l.val), l.op == "child_of")
	}
	var v any
	switch f.name {
	case "id":
		v = r.id
	case "display_name":
		v = s.displayName(m, r)
	default:
		v = s.value(m, f, r)
	}
	return matchScalar(l, f, v)
}

func matchScalar(l *leaf, f *fieldDef, v any) bool {
	empty := isEmptyScalar(f, v)
	switch l.op {
	case "=?":
		if !truthy(l.val) {
			return true
		}
		return equalScalar(f, v, l.val)
	case "=":
		if isFalse(l.val) {
			return empty
		}
		return equalScalar(f, v, l.val)
	case "!=", "<>":
		if isFalse(l.val) {
			return !empty
		}
		// SQL: NULL != x is unknown, and Odoo adds "OR IS NULL" for !=.
		return empty || !equalScalar(f, v, l.val)
	case "in", "not in":
		list, _ := l.val.([]any)
		hit := false
		for _, x := range list {
			if isFalse(x) && f.typ != tBoolean {
				if empty {
					hit = true
				}
				continue
			}
			if !empty && equalScalar(f, v, x) {
				hit = true
			}
		}
		if l.op == "in" {
			return hit
		}
		return !hit
	case ">", ">=", "<", "<=":
		if empty && f.typ != tInteger && f.typ != tFloat {
			return false
		}
		c, ok := compareWire(f, v, l.val)
		if !ok {
			return false
		}
		switch l.op {
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		case "<":
			return c < 0
		}
		return c <= 0
	case "like", "ilike", "=like", "=ilike":
		s, ok := v.(string)
		return ok && l.like.MatchString(s)
	case "not like", "not ilike":
		s, ok := v.(string)
		return !ok || !l.like.MatchString(s)
	}
	return false
}

func isFalse(v any) bool {
	b, ok := v.(bool)
	return v == nil || (ok && !b)
}

func isEmptyScalar(f *fieldDef, v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == "" && f.typ != tSelection
	case bool:
		return !x && f.typ == tBoolean
	}
	return false
}

func equalScalar(f *fieldDef, v, want any) bool {
	c, ok := compareWire(f, v, want)
	return ok && c == 0
}

// compareWire compares a stored value with a value from a domain.
func compareWire(f *fieldDef, v, want any) (int, bool) {
	switch f.typ {
	case tInteger, tFloat:
		a, ok1 := toFloat(v)
		if v == nil {
			a, ok1 = 0, true
		}
		b, ok2 := toFloat(want)
		if !ok1 || !ok2 {
			return 0, false
		}
		switch {
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		}
		return 0, true
	case tBoolean:
		a := v == true
		b := truthy(want)
		if a == b {
			return 0, true
		}
		if !a {
			return -1, true
		}
		return 1, true
	case tDatetime, tDate:
		a, ok := v.(string)
		if !ok {
			return 0, false
		}
		return compareDates(f, a, want)
	}
	if f.name == "id" {
		a, _ := v.(int)
		b, ok := asInt(want)
		if !ok {
			return 0, false
		}
		return compareInts(a, b), true
	}
	a, ok1 := v.(string)
	b, ok2 := want.(string)
	if !ok1 || !ok2 {
		return 0, false
	}
	return strings.Compare(a, b), true
}

func compareInts(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// matchRelational handles many2one and x2many comparisons: ids compare as
// ids, strings compare against the related records' display names (what
// Odoo does through _name_search).
func (l *leaf) matchRelational(s *store, m *modelDef, f *fieldDef, r *record) bool {
	ids := relatedIDs(s, m, f, r)
	cm, ct, _ := s.model(f.relation)
	nameMatches := func(want any, exact bool) bool {
		for _, id := range ids {
			target := ct.byID[id]
			if target == nil {
				continue
			}
			name := s.displayName(cm, target)
			w, _ := want.(string)
			if exact && name == w {
				return true
			}
			if !exact && l.like != nil && l.like.MatchString(name) {
				return true
			}
		}
		return false
	}
	hasID := func(want any) bool {
		if id, ok := asInt(want); ok {
			return slices.Contains(ids, id)
		}
		if _, ok := want.(string); ok {
			return nameMatches(want, true)
		}
		return false
	}
	switch l.op {
	case "=", "=?":
		if l.op == "=?" && !truthy(l.val) {
			return true
		}
		if isFalse(l.val) {
			return len(ids) == 0
		}
		return hasID(l.val)
	case "!=", "<>":
		if isFalse(l.val) {
			return len(ids) != 0
		}
		return !hasID(l.val)
	case "in", "not in":
		list, _ := l.val.([]any)
		hit := false
		for _, x := range list {
			if isFalse(x) {
				hit = hit || len(ids) == 0
				continue
			}
			hit = hit || hasID(x)
		}
		if l.op == "in" {
			return hit
		}
		return !hit
	case "like", "ilike", "=like", "=ilike":
		return nameMatches(l.val, false)
	case "not like", "not ilike":
		return !nameMatches(l.val, false)
	case ">", ">=", "<", "<=":
		want, ok := asInt(l.val)
		if !ok {
			return false
		}
		for _, id := range ids {
			c := compareInts(id, want)
			if (l.op == ">" && c > 0) || (l.op == ">=" && c >= 0) || (l.op == "<" && c < 0) || (l.op == "<=" && c <= 0) {
				return true
			}
		}
		return false
	case "child_of", "parent_of":
		roots := idList(l.val)
		for _, id := range ids {
			if hierarchyMatch(s, cm, id, roots, l.op == "child_of") {
				return true
			}
		}
		return false
	case "any", "not any":
		hit := false
		for _, id := range ids {
			if target := ct.byID[id]; target != nil && l.sub.eval(s, cm, target) {
				hit = true
				break
			}
		}
		if l.op == "any" {
			return hit
		}
		return !hit
	}
	return false
}

func idList(v any) []int {
	if id, ok := asInt(v); ok {
		return []int{id}
	}
	var out []int
	if list, ok := v.([]any); ok {
		for _, x := range list {
			if id, ok := asInt(x); ok {
				out = append(out, id)
			}
		}
	}
	return out
}

// hierarchyMatch: child_of matches id when id or one of its ancestors is in
// roots; parent_of matches when id is an ancestor-or-self of a root.
func hierarchyMatch(s *store, m *modelDef, id int, roots []int, childOf bool) bool {
	_, t, _ := s.model(m.name)
	pf, ok := m.fields["parent_id"]
	ancestors := func(start int) []int {
		var out []int
		seen := map[int]bool{}
		for cur := start; cur != 0 && !seen[cur]; {
			seen[cur] = true
			out = append(out, cur)
			r := t.byID[cur]
			if r == nil || !ok {
				break
			}
			cur, _ = r.vals[pf.pos].(int)
		}
		return out
	}
	if childOf {
		for _, a := range ancestors(id) {
			if slices.Contains(roots, a) {
				return true
			}
		}
		return false
	}
	for _, root := range roots {
		if slices.Contains(ancestors(root), id) {
			return true
		}
	}
	return false
}

// mentionsActive reports whether a domain constrains "active" itself, in
// which case Odoo does not add its implicit active filter.
func mentionsActive(c cond) bool {
	switch x := c.(type) {
	case andCond:
		return slices.ContainsFunc(x, mentionsActive)
	case orCond:
		return slices.ContainsFunc(x, mentionsActive)
	case notCond:
		return mentionsActive(x.c)
	case *leaf:
		return len(x.path) == 1 && x.path[0].name == "active"
	}
	return false
}

// idLowerBound finds a top-level "id > n" / "id >= n" conjunct, so that
// keyset paging scans from n instead of from the first record.
func idLowerBound(c cond) int {
	bound := 0
	var visit func(c cond)
	visit = func(c cond) {
		switch x := c.(type) {
		case andCond:
			for _, y := range x {
				visit(y)
			}
		case *leaf:
			if len(x.path) != 1 || x.path[0].name != "id" {
				return
			}
			n, ok := asInt(x.val)
			if !ok {
				return
			}
			if x.op == ">" {
				n++
			}
			if (x.op == ">" || x.op == ">=") && n > bound {
				bound = n
			}
		}
	}
	visit(c)
	return bound
}
