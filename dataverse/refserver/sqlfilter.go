package refserver

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/dataverse/odata"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// filterSQL translates a parsed $filter into a SQL boolean expression over
// t's SQL table, with arguments bound (never concatenated). Property and type
// errors use the messages Dataverse (ODL) gives.
type filterSQL struct {
	s      *Server
	t      *schema.Table
	alias  string // SQL alias of t's table in the FROM clause
	caller caller
	now    time.Time
	args   []any
	depth  int
	nots   int // not operators around the node being translated
	// lambdaVar is the range variable inside an any/all body ("c" in
	// c/lastname); lambdas numbers the lambdas for their SQL aliases.
	lambdaVar string
	lambdas   int
}

func couldNotFindProperty(t *schema.Table, name string) *apiError {
	return badRequest(codeBadProperty, "Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", name, t.LogicalName)
}

// operand is a resolved property on the SQL side: a column of the current
// table, or (nav set) a column reached through a single-valued navigation
// property, which conditions test through an IN sub-query.
type operand struct {
	sql string
	col *schema.Column
	nav *navHop
}

// navHop is one step through a lookup: rows whose foreign key fk is the
// primary key pk of a row in from (a table with its alias) matching inner.
type navHop struct {
	fk, from, pk string
	inner        operand
}

func (f *filterSQL) translate(e odata.Expr) (string, error) {
	switch x := e.(type) {
	case *odata.BinaryExpr:
		if x.Op == odata.OpAnd || x.Op == odata.OpOr {
			// A chain a or b or c … is a left-deep tree; translate it as a
			// list joined in a balanced tree so that SQLite, which refuses
			// expressions nested 1,000 deep, sees log2(n) levels.
			var terms []odata.Expr
			cur := x
			for {
				terms = append(terms, cur.Right)
				l, ok := cur.Left.(*odata.BinaryExpr)
				if !ok || l.Op != x.Op {
					terms = append(terms, cur.Left)
					break
				}
				cur = l
			}
			// Arguments bind in text order: translate left to right.
			slices.Reverse(terms)
			parts := make([]string, len(terms))
			for i, term := range terms {
				sql, err := f.translate(term)
				if err != nil {
					return "", err
				}
				parts[i] = sql
			}
			return balancedJoin(parts, strings.ToUpper(string(x.Op))), nil
		}
		return f.comparison(x)
	case *odata.NotExpr:
		// Each not adds two SQL levels; the parser allows 800 (ODL's
		// limit), which SQLite's 1,000 cannot hold. Refuse past 300 with
		// ODL's message rather than fail in SQL with a 500.
		f.nots++
		defer func() { f.nots-- }()
		if f.nots > 300 {
			return "", badRequest(codeQueryNotSupported, "Recursion depth exceeded allowed limit.")
		}
		inner, err := f.translate(x.X)
		if err != nil {
			return "", err
		}
		return "(NOT COALESCE(" + inner + ", 0))", nil
	case *odata.Call:
		return f.stringFunction(x)
	case *odata.QueryFunction:
		return f.queryFunction(x)
	case *odata.Property:
		// A bare boolean property used as a condition.
		op, err := f.property(x.Path)
		if err != nil {
			return "", err
		}
		if op.col.Type != schema.TypeBoolean {
			return "", badRequest(codeBadProperty, "The $filter expression must evaluate to a single boolean value.")
		}
		return "(" + op.sql + " = 1)", nil
	case *odata.Literal:
		if b, ok := x.Value.(bool); ok && x.Kind == odata.LitBool {
			if b {
				return "1", nil
			}
			return "0", nil
		}
		return "", badRequest(codeBadProperty, "The $filter expression must evaluate to a single boolean value.")
	case *odata.LambdaExpr:
		return f.lambda(x)
	}
	return "", badRequest(codeQueryNotSupported, "The $filter expression is not supported.")
}

// property resolves a property path: a column, a lookup value property
// (_x_value), or a single-valued navigation path (primarycontactid/fullname),
// the last translated to an IN sub-query on the related table.
func (f *filterSQL) property(path []string) (operand, error) {
	if f.lambdaVar != "" {
		if path[0] != f.lambdaVar || len(path) < 2 {
			return operand{}, badRequest(codeQueryNotSupported, "Inside the lambda expression, properties must start with its variable ('%s/…'); '%s' does not.", f.lambdaVar, strings.Join(path, "/"))
		}
		path = path[1:]
	}
	if len(path) == 1 {
		name := path[0]
		if c, ok := f.t.Column(name); ok {
			if c.Type.IsLookup() {
				// Lookups are navigation properties; filter on _x_value.
				return operand{}, couldNotFindProperty(f.t, name)
			}
			return operand{sql: f.alias + "." + quoteIdent(name), col: c}, nil
		}
		if c, ok := f.t.LookupByValueProperty(name); ok {
			return operand{sql: f.alias + "." + quoteIdent(c.LogicalName), col: c}, nil
		}
		return operand{}, couldNotFindProperty(f.t, name)
	}
	col, targetName, ok := f.t.LookupByNavigation(path[0])
	if !ok {
		return operand{}, couldNotFindProperty(f.t, path[0])
	}
	target, _ := f.s.reg.Table(targetName)
	if f.depth > 4 {
		return operand{}, badRequest(codeQueryNotSupported, "The navigation path '%s' is too deep.", strings.Join(path, "/"))
	}
	sub := &filterSQL{s: f.s, t: target, alias: fmt.Sprintf("n%d", f.depth+1), caller: f.caller, now: f.now, depth: f.depth + 1}
	if f.lambdaVar != "" {
		sub.alias = fmt.Sprintf("n%d_%s", f.depth+1, f.alias)
	}
	inner, err := sub.property(path[1:])
	if err != nil {
		return operand{}, err
	}
	return operand{col: inner.col, nav: &navHop{
		fk:    f.alias + "." + quoteIdent(col.LogicalName),
		from:  sqlTable(target) + " " + sub.alias,
		pk:    sub.alias + "." + quoteIdent(target.PrimaryID),
		inner: inner,
	}}, nil
}

// wrapNav applies cond to an operand's column, wrapping it in one IN
// sub-query per navigation hop.
func wrapNav(op operand, cond func(colSQL string) string) string {
	if op.nav == nil {
		return cond(op.sql)
	}
	h := op.nav
	return "(" + h.fk + " IN (SELECT " + h.pk + " FROM " + h.from + " WHERE " + wrapNav(h.inner, cond) + "))"
}

func (f *filterSQL) bind(v any) string {
	f.args = append(f.args, v)
	return "?"
}

var sqlOps = map[odata.BinaryOp]string{odata.OpEq: "=", odata.OpNe: "<>", odata.OpGt: ">", odata.OpGe: ">=", odata.OpLt: "<", odata.OpLe: "<="}

var odlOpNames = map[odata.BinaryOp]string{odata.OpEq: "Equal", odata.OpNe: "NotEqual", odata.OpGt: "GreaterThan", odata.OpGe: "GreaterThanOrEqual", odata.OpLt: "LessThan", odata.OpLe: "LessThanOrEqual"}

func (f *filterSQL) comparison(x *odata.BinaryExpr) (string, error) {
	lp, lIsProp := x.Left.(*odata.Property)
	rp, rIsProp := x.Right.(*odata.Property)
	switch {
	case lIsProp && rIsProp:
		l, err := f.property(lp.Path)
		if err != nil {
			return "", err
		}
		r, err := f.property(rp.Path)
		if err != nil {
			return "", err
		}
		if l.nav != nil || r.nav != nil {
			return "", badRequest(codeQueryNotSupported, "Comparing columns across navigation properties is not supported.")
		}
		return "(" + l.sql + " " + sqlOps[x.Op] + " " + r.sql + ")", nil
	case lIsProp:
		lit, ok := x.Right.(*odata.Literal)
		if !ok {
			return "", badRequest(codeQueryNotSupported, "The right operand of '%s' must be a literal or a property.", x.Op)
		}
		return f.compareLiteral(lp.Path, x.Op, lit)
	case rIsProp:
		lit, ok := x.Left.(*odata.Literal)
		if !ok {
			return "", badRequest(codeQueryNotSupported, "The left operand of '%s' must be a literal or a property.", x.Op)
		}
		return f.compareLiteral(rp.Path, flip(x.Op), lit)
	}
	return "", badRequest(codeQueryNotSupported, "A comparison needs a property operand.")
}

func flip(op odata.BinaryOp) odata.BinaryOp {
	switch op {
	case odata.OpGt:
		return odata.OpLt
	case odata.OpGe:
		return odata.OpLe
	case odata.OpLt:
		return odata.OpGt
	case odata.OpLe:
		return odata.OpGe
	}
	return op
}

func (f *filterSQL) compareLiteral(path []string, op odata.BinaryOp, lit *odata.Literal) (string, error) {
	prop, err := f.property(path)
	if err != nil {
		return "", err
	}
	if lit.Kind == odata.LitNull {
		switch op {
		case odata.OpEq:
			return wrapNav(prop, func(c string) string { return c + " IS NULL" }), nil
		case odata.OpNe:
			return wrapNav(prop, func(c string) string { return c + " IS NOT NULL" }), nil
		}
		return "(0)", nil
	}
	v, err := literalFor(prop.col, lit, op)
	if err != nil {
		return "", err
	}
	ph := f.bind(v)
	return wrapNav(prop, func(c string) string { return "(" + c + " " + sqlOps[op] + " " + ph + ")" }), nil
}

// literalFor converts an OData literal to the stored representation of col,
// or reports the ODL incompatible-types error.
func literalFor(col *schema.Column, lit *odata.Literal, op odata.BinaryOp) (any, error) {
	incompatible := func() error {
		return badRequest(codeBadProperty, "A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", edmType(col), literalEdm(lit), odlOpNames[op])
	}
	switch col.Type {
	case schema.TypeString, schema.TypeMemo, schema.TypeEntityName:
		if lit.Kind != odata.LitString {
			return nil, incompatible()
		}
		return lit.Value, nil
	case schema.TypeInteger, schema.TypeBigInt, schema.TypePicklist, schema.TypeState, schema.TypeStatus:
		switch lit.Kind {
		case odata.LitInt:
			return lit.Value, nil
		case odata.LitString:
			// Dataverse converts quoted numbers for choice columns.
			if n, err := strconv.ParseInt(lit.Value.(string), 10, 64); err == nil && col.Type.IsChoice() {
				return n, nil
			}
		}
		return nil, incompatible()
	case schema.TypeDecimal, schema.TypeDouble, schema.TypeMoney:
		switch lit.Kind {
		case odata.LitInt:
			return float64(lit.Value.(int64)), nil
		case odata.LitDecimal:
			return lit.Value, nil
		}
		return nil, incompatible()
	case schema.TypeBoolean:
		if lit.Kind != odata.LitBool {
			return nil, incompatible()
		}
		if lit.Value.(bool) {
			return int64(1), nil
		}
		return int64(0), nil
	case schema.TypeDateTime:
		switch lit.Kind {
		case odata.LitDateTimeOffset, odata.LitDate:
			return lit.Value.(time.Time).UTC().Format(dateTimeLayout), nil
		}
		return nil, incompatible()
	case schema.TypeDateOnly:
		switch lit.Kind {
		case odata.LitDateTimeOffset, odata.LitDate:
			return lit.Value.(time.Time).Format(dateOnlyLayout), nil
		}
		return nil, incompatible()
	case schema.TypeUniqueidentifier, schema.TypeLookup, schema.TypeCustomer, schema.TypeOwner:
		switch lit.Kind {
		case odata.LitGUID:
			return lit.Value, nil
		case odata.LitString:
			if g, err := keyLiteral(col, "'"+lit.Value.(string)+"'"); err == nil {
				return g, nil
			}
		}
		return nil, incompatible()
	}
	return nil, incompatible()
}

func literalEdm(lit *odata.Literal) string {
	switch lit.Kind {
	case odata.LitBool:
		return "Edm.Boolean"
	case odata.LitString:
		return "Edm.String"
	case odata.LitInt:
		return "Edm.Int32"
	case odata.LitDecimal:
		return "Edm.Decimal"
	case odata.LitGUID:
		return "Edm.Guid"
	case odata.LitDateTimeOffset:
		return "Edm.DateTimeOffset"
	case odata.LitDate:
		return "Edm.Date"
	}
	return "Edm.Untyped"
}

// stringFunction translates contains/startswith/endswith. Dataverse passes
// the value to SQL LIKE, so % and _ in it act as wildcards (filter-rows.md:
// "SQL wildcard characters ... are honoured").
func (f *filterSQL) stringFunction(c *odata.Call) (string, error) {
	if len(c.Args) != 2 {
		return "", badRequest(codeQueryNotSupported, "The function '%s' requires two arguments.", c.Name)
	}
	p, ok := c.Args[0].(*odata.Property)
	lit, ok2 := c.Args[1].(*odata.Literal)
	if !ok || !ok2 || lit.Kind != odata.LitString {
		return "", badRequest(codeQueryNotSupported, "The function '%s' needs a property and a string literal.", c.Name)
	}
	prop, err := f.property(p.Path)
	if err != nil {
		return "", err
	}
	switch prop.col.Type {
	case schema.TypeString, schema.TypeMemo, schema.TypeEntityName:
	default:
		return "", badRequest(codeBadProperty, "No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String).", c.Name, c.Name)
	}
	pattern := lit.Value.(string)
	if err := checkLikePattern(pattern); err != nil {
		return "", err
	}
	switch c.Name {
	case "contains":
		pattern = "%" + pattern + "%"
	case "startswith":
		pattern += "%"
	case "endswith":
		pattern = "%" + pattern
	default:
		return "", badRequest(codeQueryNotSupported, "The function '%s' is not supported.", c.Name)
	}
	ph := f.bind(pattern)
	return wrapNav(prop, func(col string) string { return "(" + col + " LIKE " + ph + ")" }), nil
}

// queryFunction translates the Dataverse query functions the reference server
// supports (filter-rows.md, "Dataverse query functions").
func (f *filterSQL) queryFunction(q *odata.QueryFunction) (string, error) {
	name, ok := q.PropertyName()
	if !ok {
		return "", badRequest(codeQueryNotSupported, "The function 'Microsoft.Dynamics.CRM.%s' requires the parameter PropertyName.", q.Name)
	}
	prop, err := f.property(strings.Split(name, "/"))
	if err != nil {
		return "", err
	}
	values := func() ([]any, error) {
		list, ok := q.Param("PropertyValues").(*odata.ListLiteral)
		if !ok {
			return nil, badRequest(codeQueryNotSupported, "The function 'Microsoft.Dynamics.CRM.%s' requires the parameter PropertyValues.", q.Name)
		}
		out := make([]any, 0, len(list.Items))
		for _, it := range list.Items {
			lit, ok := it.(*odata.Literal)
			if !ok {
				return nil, badRequest(codeQueryNotSupported, "PropertyValues must hold literals.")
			}
			v, err := literalFromText(prop.col, lit)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	intParam := func(pname string) (int64, error) {
		lit, ok := q.Param(pname).(*odata.Literal)
		if !ok {
			return 0, badRequest(codeQueryNotSupported, "The function 'Microsoft.Dynamics.CRM.%s' requires the parameter %s.", q.Name, pname)
		}
		switch lit.Kind {
		case odata.LitInt:
			return lit.Value.(int64), nil
		case odata.LitString:
			if n, err := strconv.ParseInt(lit.Value.(string), 10, 64); err == nil {
				return n, nil
			}
		}
		return 0, badRequest(codeQueryNotSupported, "The parameter %s of 'Microsoft.Dynamics.CRM.%s' must be an integer.", pname, q.Name)
	}
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	dateRange := func(from, to time.Time) string {
		a, b := f.bind(from.Format(dateTimeLayout)), f.bind(to.Format(dateTimeLayout))
		return wrapNav(prop, func(c string) string { return "(" + c + " >= " + a + " AND " + c + " < " + b + ")" })
	}
	switch q.Name {
	case "In", "NotIn":
		vals, err := values()
		if err != nil {
			return "", err
		}
		phs := make([]string, len(vals))
		for i, v := range vals {
			phs[i] = f.bind(v)
		}
		op := " IN "
		if q.Name == "NotIn" {
			op = " NOT IN "
		}
		return wrapNav(prop, func(c string) string { return "(" + c + op + "(" + strings.Join(phs, ", ") + "))" }), nil
	case "Between", "NotBetween":
		vals, err := values()
		if err != nil {
			return "", err
		}
		if len(vals) != 2 {
			return "", badRequest(codeQueryNotSupported, "The function 'Microsoft.Dynamics.CRM.%s' requires exactly two PropertyValues.", q.Name)
		}
		a, b := f.bind(vals[0]), f.bind(vals[1])
		not := ""
		if q.Name == "NotBetween" {
			not = "NOT "
		}
		return wrapNav(prop, func(c string) string { return "(" + c + " " + not + "BETWEEN " + a + " AND " + b + ")" }), nil
	case "Null":
		return wrapNav(prop, func(c string) string { return c + " IS NULL" }), nil
	case "NotNull":
		return wrapNav(prop, func(c string) string { return c + " IS NOT NULL" }), nil
	case "Today":
		d := day(f.now)
		return dateRange(d, d.AddDate(0, 0, 1)), nil
	case "Yesterday":
		d := day(f.now)
		return dateRange(d.AddDate(0, 0, -1), d), nil
	case "Tomorrow":
		d := day(f.now)
		return dateRange(d.AddDate(0, 0, 1), d.AddDate(0, 0, 2)), nil
	case "LastXDays", "LastXHours", "NextXDays", "NextXHours", "OlderThanXDays":
		n, err := intParam("PropertyValue")
		if err != nil {
			return "", err
		}
		switch q.Name {
		case "LastXDays":
			return dateRange(day(f.now).AddDate(0, 0, -int(n)), f.now), nil
		case "LastXHours":
			return dateRange(f.now.Add(-time.Duration(n)*time.Hour), f.now), nil
		case "NextXDays":
			return dateRange(f.now, day(f.now).AddDate(0, 0, int(n)+1)), nil
		case "NextXHours":
			return dateRange(f.now, f.now.Add(time.Duration(n)*time.Hour)), nil
		default:
			ph := f.bind(day(f.now).AddDate(0, 0, -int(n)).Format(dateTimeLayout))
			return wrapNav(prop, func(c string) string { return "(" + c + " < " + ph + ")" }), nil
		}
	case "On", "OnOrAfter", "OnOrBefore":
		lit, ok := q.Param("PropertyValue").(*odata.Literal)
		if !ok {
			return "", badRequest(codeQueryNotSupported, "The function 'Microsoft.Dynamics.CRM.%s' requires the parameter PropertyValue.", q.Name)
		}
		var d time.Time
		switch lit.Kind {
		case odata.LitDate, odata.LitDateTimeOffset:
			d = day(lit.Value.(time.Time).UTC())
		case odata.LitString:
			tm, err := parseDateTime(lit.Value.(string))
			if err != nil {
				return "", badRequest(codeQueryNotSupported, "The parameter PropertyValue of 'Microsoft.Dynamics.CRM.%s' must be a date.", q.Name)
			}
			d = day(tm.UTC())
		default:
			return "", badRequest(codeQueryNotSupported, "The parameter PropertyValue of 'Microsoft.Dynamics.CRM.%s' must be a date.", q.Name)
		}
		switch q.Name {
		case "On":
			return dateRange(d, d.AddDate(0, 0, 1)), nil
		case "OnOrAfter":
			ph := f.bind(d.Format(dateTimeLayout))
			return wrapNav(prop, func(c string) string { return "(" + c + " >= " + ph + ")" }), nil
		default:
			ph := f.bind(d.AddDate(0, 0, 1).Format(dateTimeLayout))
			return wrapNav(prop, func(c string) string { return "(" + c + " < " + ph + ")" }), nil
		}
	case "EqualUserId", "NotEqualUserId":
		ph := f.bind(f.s.adminUserID)
		op := " = "
		if q.Name == "NotEqualUserId" {
			op = " <> "
		}
		return wrapNav(prop, func(c string) string { return "(" + c + op + ph + ")" }), nil
	}
	return "", badRequest(codeQueryNotSupported, "The function 'Microsoft.Dynamics.CRM.%s' is not supported by the reference server.", q.Name)
}

// literalFromText converts a PropertyValues item, which Dataverse accepts as
// strings whatever the column type, to the stored representation.
func literalFromText(col *schema.Column, lit *odata.Literal) (any, error) {
	if lit.Kind != odata.LitString {
		return literalFor(col, lit, odata.OpEq)
	}
	s := lit.Value.(string)
	switch col.Type {
	case schema.TypeString, schema.TypeMemo, schema.TypeEntityName:
		return s, nil
	}
	v, err := keyLiteral(col, s)
	if err != nil {
		if v2, err2 := keyLiteral(col, "'"+strings.ReplaceAll(s, "'", "''")+"'"); err2 == nil {
			return sqlValue(v2), nil
		}
		return nil, badRequest(codeQueryNotSupported, "The value '%s' is not valid for the column '%s'.", s, col.LogicalName)
	}
	return sqlValue(v), nil
}
