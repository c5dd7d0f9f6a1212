// Package odata parses the OData 4.0 system query options that clients send
// to the Dataverse Web API ($select, $filter, $orderby, $top, $expand,
// $count, $skiptoken, $deltatoken and parameter aliases), accepting and
// rejecting input the way Dataverse does, and turns $filter into a small
// AST that the reference server walks to build SQL.
//
// Dataverse parses URLs with Microsoft.OData.Core (ODL), so syntax errors carry
// ODL's wording ("Syntax error at position 5 in 'name eqq 'x”."), with
// positions counted the way .NET counts string indexes (UTF-16 code units,
// zero based). The package does not know the schema: whether a property exists
// or a literal's type fits its column is the server's job.
//
// References: powerapps-docs developer/data-platform/webapi/query/overview.md
// (options, aliases, unsupported options) and filter-rows.md (operators,
// functions, Dataverse query functions); ODL resource strings in
// OData/odata.net src/Microsoft.OData.Core/Microsoft.OData.Core.txt.
package odata

// Expr is a node of a parsed $filter expression. The concrete types are
// *BinaryExpr, *NotExpr, *Property, *Literal, *ListLiteral, *Call,
// *QueryFunction and *LambdaExpr; use a type switch to walk them.
type Expr interface {
	exprNode()
}

// BinaryOp is a logical or comparison operator.
type BinaryOp string

const (
	OpEq  BinaryOp = "eq"
	OpNe  BinaryOp = "ne"
	OpGt  BinaryOp = "gt"
	OpGe  BinaryOp = "ge"
	OpLt  BinaryOp = "lt"
	OpLe  BinaryOp = "le"
	OpAnd BinaryOp = "and"
	OpOr  BinaryOp = "or"
)

// IsComparison reports whether op is one of eq ne gt ge lt le.
func (op BinaryOp) IsComparison() bool {
	switch op {
	case OpEq, OpNe, OpGt, OpGe, OpLt, OpLe:
		return true
	}
	return false
}

// BinaryExpr is Left Op Right. Comparisons and logical operators are left
// associative, as in ODL: "a or b or c" is ((a or b) or c).
type BinaryExpr struct {
	Op          BinaryOp
	Left, Right Expr
}

// NotExpr is "not X". In OData, not is a unary operator that binds tighter
// than comparisons, so "not a eq b" is "(not a) eq b"; clients write
// "not (a eq b)" or "not contains(a,'x')".
type NotExpr struct {
	X Expr
}

// Property is a property path: a column ("name"), a lookup value column
// ("_customerid_value"), or a path through single-valued navigation properties
// ("primarycontactid/fullname"). Inside a lambda body the first segment may be
// the lambda variable ("c/fullname").
type Property struct {
	Path []string
}

// LiteralKind tells which Go type Literal.Value holds.
type LiteralKind int

const (
	LitNull           LiteralKind = iota // Value nil
	LitBool                              // Value bool
	LitString                            // Value string (unescaped)
	LitInt                               // Value int64
	LitDecimal                           // Value float64; Raw keeps the exact digits
	LitGUID                              // Value string, lower-case canonical 8-4-4-4-12
	LitDateTimeOffset                    // Value time.Time
	LitDate                              // Value time.Time at 00:00 UTC
	LitEnum                              // Value EnumValue, e.g. Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'
)

var literalKindNames = [...]string{"null", "bool", "string", "int", "decimal", "guid", "datetimeoffset", "date", "enum"}

func (k LiteralKind) String() string {
	if int(k) < len(literalKindNames) {
		return literalKindNames[k]
	}
	return "LiteralKind(?)"
}

// Literal is a constant. Raw is the text as the client wrote it (for a string,
// including the quotes); it is empty for literals built in code.
type Literal struct {
	Kind  LiteralKind
	Value any
	Raw   string
}

// EnumValue is the value of an enum literal such as
// Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned', which Dataverse accepts
// when filtering metadata (EntityDefinitions).
type EnumValue struct {
	Type   string // qualified enum type name
	Member string // member name(s) as written between the quotes
}

// ListLiteral is a bracketed collection, used for the PropertyValues parameter
// of Dataverse query functions: PropertyValues=["a","b"] or ['a','b'].
type ListLiteral struct {
	Items []Expr
}

// Call is one of the OData string functions Dataverse supports in $filter:
// contains, startswith, endswith. Args are in call order (property, value).
type Call struct {
	Name string
	Args []Expr
}

// QueryFunction is a Dataverse query function such as
// Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a','b']).
// Name has no namespace ("In"); Params keep the client's order.
type QueryFunction struct {
	Name   string
	Params []FunctionParam
}

// FunctionParam is one Name=Value argument of a query function.
type FunctionParam struct {
	Name  string
	Value Expr
}

// Param returns the value of the named parameter, or nil.
func (f *QueryFunction) Param(name string) Expr {
	for _, p := range f.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return nil
}

// PropertyName returns the string value of the PropertyName parameter, which
// every Dataverse query function has: the column the function tests.
func (f *QueryFunction) PropertyName() (string, bool) {
	lit, ok := f.Param("PropertyName").(*Literal)
	if !ok || lit.Kind != LitString {
		return "", false
	}
	return lit.Value.(string), true
}

// LambdaKind is any or all.
type LambdaKind string

const (
	LambdaAny LambdaKind = "any"
	LambdaAll LambdaKind = "all"
)

// LambdaExpr is Path/any(Var:Body) or Path/all(Var:Body) over a
// collection-valued navigation property. "Path/any()" has an empty Var and a
// nil Body. The package parses lambdas; whether the server evaluates them is
// the server's choice.
type LambdaExpr struct {
	Path []string
	Kind LambdaKind
	Var  string
	Body Expr
}

func (*BinaryExpr) exprNode()    {}
func (*NotExpr) exprNode()       {}
func (*Property) exprNode()      {}
func (*Literal) exprNode()       {}
func (*ListLiteral) exprNode()   {}
func (*Call) exprNode()          {}
func (*QueryFunction) exprNode() {}
func (*LambdaExpr) exprNode()    {}

// Query is the parsed set of system query options of one request.
type Query struct {
	// Select lists the requested columns in order; nil means $select was
	// absent or empty (all columns). Names are only checked for identifier
	// syntax; "*" is kept as is.
	Select []string
	// Filter is nil when $filter was absent or empty. Parameter aliases are
	// already substituted; an alias used twice yields one shared subtree, so
	// treat the tree as read-only.
	Filter Expr
	// OrderBy lists sort keys in order.
	OrderBy []OrderItem
	// Top is nil when $top was absent.
	Top *int
	// Expand lists expanded navigation properties.
	Expand []ExpandItem
	// Count is true for $count=true.
	Count bool
	// SkipToken and DeltaToken are the decoded option values, opaque here.
	SkipToken  string
	DeltaToken string
	// FetchXML is the decoded fetchXml parameter (use-fetchxml-web-api.md);
	// when set, the only other option present is at most $count.
	FetchXML string
	// Apply is the parsed $apply transformation sequence; nil when absent.
	Apply []Transformation
}

// OrderItem is one $orderby key.
type OrderItem struct {
	Path []string
	Desc bool
}

// ExpandItem is one $expand entry: a navigation property with its nested
// options (Dataverse allows $select, $filter, $orderby, $top and $expand).
type ExpandItem struct {
	Property string
	// Ref is set for "nav/$ref": references instead of records
	// (join-tables.md, "Return references"); it takes no options.
	Ref     bool
	Select  []string
	Filter  Expr
	OrderBy []OrderItem
	Top     *int
	Expand  []ExpandItem
}
