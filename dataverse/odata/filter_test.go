package odata

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Constructors that keep the expected trees in the tables short.
func prop(path ...string) *Property { return &Property{Path: path} }
func str(s string) *Literal         { return &Literal{Kind: LitString, Value: s} }
func i64(n int64) *Literal          { return &Literal{Kind: LitInt, Value: n} }
func dec(f float64) *Literal        { return &Literal{Kind: LitDecimal, Value: f} }
func boolean(b bool) *Literal       { return &Literal{Kind: LitBool, Value: b} }
func null() *Literal                { return &Literal{Kind: LitNull} }
func guid(s string) *Literal        { return &Literal{Kind: LitGUID, Value: s} }
func bin(op BinaryOp, l, r Expr) *BinaryExpr {
	return &BinaryExpr{Op: op, Left: l, Right: r}
}
func not(x Expr) *NotExpr { return &NotExpr{X: x} }
func call(name string, args ...Expr) *Call {
	return &Call{Name: name, Args: args}
}
func qf(name string, kv ...any) *QueryFunction {
	f := &QueryFunction{Name: name}
	for i := 0; i < len(kv); i += 2 {
		f.Params = append(f.Params, FunctionParam{Name: kv[i].(string), Value: kv[i+1].(Expr)})
	}
	return f
}
func list(items ...Expr) *ListLiteral { return &ListLiteral{Items: items} }

// equalExpr compares trees by meaning: Raw spellings are ignored.
func equalExpr(a, b Expr) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case *BinaryExpr:
		y, ok := b.(*BinaryExpr)
		return ok && x.Op == y.Op && equalExpr(x.Left, y.Left) && equalExpr(x.Right, y.Right)
	case *NotExpr:
		y, ok := b.(*NotExpr)
		return ok && equalExpr(x.X, y.X)
	case *Property:
		y, ok := b.(*Property)
		return ok && strings.Join(x.Path, "/") == strings.Join(y.Path, "/") && len(x.Path) == len(y.Path)
	case *Literal:
		y, ok := b.(*Literal)
		if !ok || x.Kind != y.Kind {
			return false
		}
		if tx, ok := x.Value.(time.Time); ok {
			ty, ok := y.Value.(time.Time)
			return ok && tx.Equal(ty)
		}
		return x.Value == y.Value
	case *ListLiteral:
		y, ok := b.(*ListLiteral)
		if !ok || len(x.Items) != len(y.Items) {
			return false
		}
		for i := range x.Items {
			if !equalExpr(x.Items[i], y.Items[i]) {
				return false
			}
		}
		return true
	case *Call:
		y, ok := b.(*Call)
		if !ok || x.Name != y.Name || len(x.Args) != len(y.Args) {
			return false
		}
		for i := range x.Args {
			if !equalExpr(x.Args[i], y.Args[i]) {
				return false
			}
		}
		return true
	case *QueryFunction:
		y, ok := b.(*QueryFunction)
		if !ok || x.Name != y.Name || len(x.Params) != len(y.Params) {
			return false
		}
		for i := range x.Params {
			if x.Params[i].Name != y.Params[i].Name || !equalExpr(x.Params[i].Value, y.Params[i].Value) {
				return false
			}
		}
		return true
	case *LambdaExpr:
		y, ok := b.(*LambdaExpr)
		return ok && strings.Join(x.Path, "/") == strings.Join(y.Path, "/") && x.Kind == y.Kind && x.Var == y.Var && equalExpr(x.Body, y.Body)
	}
	return false
}

// dump renders a tree with explicit structure for failure messages.
func dump(e Expr) string {
	switch x := e.(type) {
	case nil:
		return "<nil>"
	case *BinaryExpr:
		return fmt.Sprintf("(%s %s %s)", x.Op, dump(x.Left), dump(x.Right))
	case *NotExpr:
		return "(not " + dump(x.X) + ")"
	case *Literal:
		return fmt.Sprintf("%s:%v", x.Kind, x.Value)
	default:
		return Format(e)
	}
}

func TestParseFilterTrees(t *testing.T) {
	day := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   Expr
		format string // canonical text; "" means same as in
	}{
		{"name eq 'Contoso'", bin(OpEq, prop("name"), str("Contoso")), ""},
		{"revenue ne 100000", bin(OpNe, prop("revenue"), i64(100000)), ""},
		{"revenue gt -5", bin(OpGt, prop("revenue"), i64(-5)), ""},
		{"revenue ge 1.5", bin(OpGe, prop("revenue"), dec(1.5)), ""},
		{"revenue lt -0.25", bin(OpLt, prop("revenue"), dec(-0.25)), ""},
		{"revenue le 2.5E-3", bin(OpLe, prop("revenue"), dec(0.0025)), ""},
		{"n eq 9223372036854775807", bin(OpEq, prop("n"), i64(9223372036854775807)), ""},
		// Past Int64, ODL reads a Decimal.
		{"n eq 9223372036854775808", bin(OpEq, prop("n"), dec(9223372036854775808)), ""},
		{"description eq null", bin(OpEq, prop("description"), null()), ""},
		{"donotemail eq true or donotphone eq false", bin(OpOr, bin(OpEq, prop("donotemail"), boolean(true)), bin(OpEq, prop("donotphone"), boolean(false))), ""},
		// Precedence: and binds tighter than or.
		{"a eq 1 or b eq 2 and c eq 3", bin(OpOr, bin(OpEq, prop("a"), i64(1)), bin(OpAnd, bin(OpEq, prop("b"), i64(2)), bin(OpEq, prop("c"), i64(3)))), ""},
		{"(a eq 1 or b eq 2) and c eq 3", bin(OpAnd, bin(OpOr, bin(OpEq, prop("a"), i64(1)), bin(OpEq, prop("b"), i64(2))), bin(OpEq, prop("c"), i64(3))), ""},
		// Left associativity, and parentheses kept only where needed.
		{"a or b or c", bin(OpOr, bin(OpOr, prop("a"), prop("b")), prop("c")), ""},
		{"a or (b or c)", bin(OpOr, prop("a"), bin(OpOr, prop("b"), prop("c"))), ""},
		{"((a eq 1))", bin(OpEq, prop("a"), i64(1)), "a eq 1"},
		// not is unary: it binds tighter than comparisons.
		{"not contains(name,'sample')", not(call("contains", prop("name"), str("sample"))), ""},
		{"not (statecode eq 1)", not(bin(OpEq, prop("statecode"), i64(1))), ""},
		{"not(statecode eq 1)", not(bin(OpEq, prop("statecode"), i64(1))), "not (statecode eq 1)"},
		{"not donotemail eq true", bin(OpEq, not(prop("donotemail")), boolean(true)), ""},
		{"not not donotemail", not(not(prop("donotemail"))), ""},
		{"lastname eq 'O''Bryan'", bin(OpEq, prop("lastname"), str("O'Bryan")), ""},
		{"name eq ''", bin(OpEq, prop("name"), str("")), ""},
		{"name eq 'Zoë ''😀'''", bin(OpEq, prop("name"), str("Zoë '😀'")), ""},
		{"contains(name,'(sample)') or contains(name,'test')", bin(OpOr, call("contains", prop("name"), str("(sample)")), call("contains", prop("name"), str("test"))), ""},
		{"startswith(name,'a') and endswith(name,'Inc.')", bin(OpAnd, call("startswith", prop("name"), str("a")), call("endswith", prop("name"), str("Inc."))), ""},
		{"_customerid_value eq 7d1bd3a5-0bb7-4f45-a1e9-3b1e4b4b5c6d", bin(OpEq, prop("_customerid_value"), guid("7d1bd3a5-0bb7-4f45-a1e9-3b1e4b4b5c6d")), ""},
		// GUIDs may start with a letter and are normalized to lower case.
		{"_ownerid_value eq ABCDEF01-2345-6789-ABCD-EF0123456789", bin(OpEq, prop("_ownerid_value"), guid("abcdef01-2345-6789-abcd-ef0123456789")), "_ownerid_value eq abcdef01-2345-6789-abcd-ef0123456789"},
		{"createdon ge 2024-01-02T03:04:05Z", bin(OpGe, prop("createdon"), &Literal{Kind: LitDateTimeOffset, Value: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}), ""},
		{"modifiedon lt 2024-01-02T03:04:05.123+01:00", bin(OpLt, prop("modifiedon"), &Literal{Kind: LitDateTimeOffset, Value: time.Date(2024, 1, 2, 2, 4, 5, 123e6, time.UTC)}), ""},
		{"modifiedon lt 2024-01-02T03:04Z", bin(OpLt, prop("modifiedon"), &Literal{Kind: LitDateTimeOffset, Value: time.Date(2024, 1, 2, 3, 4, 0, 0, time.UTC)}), ""},
		{"enddate eq 2024-01-02", bin(OpEq, prop("enddate"), &Literal{Kind: LitDate, Value: day}), ""},
		{"primarycontactid/fullname eq 'Susanna Stubberod (sample)'", bin(OpEq, prop("primarycontactid", "fullname"), str("Susanna Stubberod (sample)")), ""},
		{"primarycontactid/createdby/fullname eq 'System Administrator'", bin(OpEq, prop("primarycontactid", "createdby", "fullname"), str("System Administrator")), ""},
		{"firstname eq lastname", bin(OpEq, prop("firstname"), prop("lastname")), ""},
		{"  name\teq   'x'  ", bin(OpEq, prop("name"), str("x")), "name eq 'x'"},
		// Property names that are also keywords elsewhere.
		{"any eq 1", bin(OpEq, prop("any"), i64(1)), ""},
		{"OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'", bin(OpEq, prop("OwnershipType"), &Literal{Kind: LitEnum, Value: EnumValue{Type: "Microsoft.Dynamics.CRM.OwnershipTypes", Member: "UserOwned"}}), ""},
		{"CanCreateAttributes/Value eq true", bin(OpEq, prop("CanCreateAttributes", "Value"), boolean(true)), ""},
		// Dataverse query functions.
		{`Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=["5","2000"])`,
			qf("Between", "PropertyName", str("numberofemployees"), "PropertyValues", list(str("5"), str("2000"))), ""},
		{`Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["OBrian","O'Brian"])`,
			qf("In", "PropertyName", str("lastname"), "PropertyValues", list(str("OBrian"), str("O'Brian"))), ""},
		{`Microsoft.Dynamics.CRM.NotIn(PropertyName='statuscode',PropertyValues=['1', "2" ,3, null, true])`,
			qf("NotIn", "PropertyName", str("statuscode"), "PropertyValues", list(str("1"), str("2"), i64(3), null(), boolean(true))),
			`Microsoft.Dynamics.CRM.NotIn(PropertyName='statuscode',PropertyValues=["1","2",3,null,true])`},
		{`Microsoft.Dynamics.CRM.ContainValues(PropertyName='sample_colors',PropertyValues=["727000000","727000002"])`,
			qf("ContainValues", "PropertyName", str("sample_colors"), "PropertyValues", list(str("727000000"), str("727000002"))), ""},
		{`Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[])`, qf("In", "PropertyName", str("x"), "PropertyValues", list()), ""},
		{`Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=["a\"b\\c\u00e9"])`, qf("In", "PropertyName", str("x"), "PropertyValues", list(str(`a"b\cé`))), `Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=["a\"b\\cé"])`},
		{"Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)", qf("LastXDays", "PropertyName", str("createdon"), "PropertyValue", i64(7)), ""},
		// Parameters in any order, as ODL binds them by name.
		{"Microsoft.Dynamics.CRM.On(PropertyValue=2024-01-02,PropertyName='createdon')", qf("On", "PropertyValue", &Literal{Kind: LitDate, Value: day}, "PropertyName", str("createdon")), ""},
		{"Microsoft.Dynamics.CRM.Today(PropertyName='createdon')", qf("Today", "PropertyName", str("createdon")), ""},
		{"Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid') and statecode eq 0", bin(OpAnd, qf("EqualUserId", "PropertyName", str("ownerid")), bin(OpEq, prop("statecode"), i64(0))), ""},
		{"Microsoft.Dynamics.CRM.InFiscalPeriodAndYear(PropertyName='createdon',PropertyValue1=3,PropertyValue2=2024)", qf("InFiscalPeriodAndYear", "PropertyName", str("createdon"), "PropertyValue1", i64(3), "PropertyValue2", i64(2024)), ""},
		{"Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue=7d1bd3a5-0bb7-4f45-a1e9-3b1e4b4b5c6d)", qf("Under", "PropertyName", str("accountid"), "PropertyValue", guid("7d1bd3a5-0bb7-4f45-a1e9-3b1e4b4b5c6d")), ""},
		{"not Microsoft.Dynamics.CRM.Today(PropertyName='createdon')", not(qf("Today", "PropertyName", str("createdon"))), ""},
		// Lambdas (filter-rows.md examples).
		{"Account_Emails/any(e:contains(e/subject,'sometext'))", &LambdaExpr{Path: []string{"Account_Emails"}, Kind: LambdaAny, Var: "e", Body: call("contains", prop("e", "subject"), str("sometext"))}, ""},
		{"Account_Tasks/all(t:t/statecode eq 1)", &LambdaExpr{Path: []string{"Account_Tasks"}, Kind: LambdaAll, Var: "t", Body: bin(OpEq, prop("t", "statecode"), i64(1))}, ""},
		{"contact_customer_accounts/any()", &LambdaExpr{Path: []string{"contact_customer_accounts"}, Kind: LambdaAny}, ""},
		{"(contact_customer_accounts/any(c:c/jobtitle eq 'jobtitle' and c/opportunity_customer_contacts/any(o:o/description ne 'N/A'))) and endswith(name,'Inc.')",
			bin(OpAnd,
				&LambdaExpr{Path: []string{"contact_customer_accounts"}, Kind: LambdaAny, Var: "c", Body: bin(OpAnd,
					bin(OpEq, prop("c", "jobtitle"), str("jobtitle")),
					&LambdaExpr{Path: []string{"c", "opportunity_customer_contacts"}, Kind: LambdaAny, Var: "o", Body: bin(OpNe, prop("o", "description"), str("N/A"))})},
				call("endswith", prop("name"), str("Inc."))),
			"contact_customer_accounts/any(c:c/jobtitle eq 'jobtitle' and c/opportunity_customer_contacts/any(o:o/description ne 'N/A')) and endswith(name,'Inc.')"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFilter(tt.in)
			if err != nil {
				t.Fatalf("ParseFilter: %v", err)
			}
			if !equalExpr(got, tt.want) {
				t.Fatalf("tree\n got %s\nwant %s", dump(got), dump(tt.want))
			}
			want := tt.format
			if want == "" {
				want = tt.in
			}
			if f := Format(got); f != want {
				t.Errorf("Format = %s, want %s", f, want)
			}
		})
	}
}

func TestParseFilterRawKeepsClientSpelling(t *testing.T) {
	e, err := ParseFilter("revenue eq 1234567890.123456789012 and id eq ABCDEF01-2345-6789-ABCD-EF0123456789")
	if err != nil {
		t.Fatal(err)
	}
	and := e.(*BinaryExpr)
	num := and.Left.(*BinaryExpr).Right.(*Literal)
	if num.Raw != "1234567890.123456789012" {
		t.Errorf("decimal Raw = %q", num.Raw)
	}
	if got := Format(e); !strings.Contains(got, "1234567890.123456789012") {
		t.Errorf("Format lost decimal digits: %s", got)
	}
	g := and.Right.(*BinaryExpr).Right.(*Literal)
	if g.Raw != "ABCDEF01-2345-6789-ABCD-EF0123456789" || g.Value != "abcdef01-2345-6789-abcd-ef0123456789" {
		t.Errorf("guid literal = %+v", g)
	}
}

func TestFormatBuiltTrees(t *testing.T) {
	// Trees built in code have no Raw; Format must still produce text that
	// parses back to them.
	tests := []struct {
		e    Expr
		want string
	}{
		{bin(OpEq, prop("a"), dec(2)), "a eq 2.0"},
		{bin(OpEq, prop("a"), dec(1e21)), "a eq 1e+21"},
		{bin(OpEq, prop("a"), &Literal{Kind: LitDateTimeOffset, Value: time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("", -5*3600))}), "a eq 2024-05-06T07:08:09-05:00"},
		{bin(OpEq, prop("a"), &Literal{Kind: LitEnum, Value: EnumValue{Type: "NS.E", Member: "it's"}}), "a eq NS.E'it''s'"},
		{bin(OpEq, prop("a"), str("O'Brian")), "a eq 'O''Brian'"},
		{qf("In", "PropertyName", str("x"), "PropertyValues", list(str("O'Brian"), str("tab\there"))), `Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=["O'Brian","tab\u0009here"])`},
		{not(bin(OpAnd, prop("a"), prop("b"))), "not (a and b)"},
		{bin(OpEq, bin(OpEq, prop("a"), prop("b")), bin(OpEq, prop("c"), prop("d"))), "a eq b eq (c eq d)"},
		{bin(OpAnd, bin(OpOr, prop("a"), prop("b")), prop("c")), "(a or b) and c"},
	}
	for _, tt := range tests {
		got := Format(tt.e)
		if got != tt.want {
			t.Errorf("Format = %s, want %s", got, tt.want)
			continue
		}
		back, err := ParseFilter(got)
		if err != nil {
			t.Errorf("ParseFilter(%s): %v", got, err)
			continue
		}
		if !equalExpr(back, tt.e) {
			t.Errorf("round trip of %s\n got %s\nwant %s", got, dump(back), dump(tt.e))
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	deep := strings.Repeat("(", 1000) + "a" + strings.Repeat(")", 1000)
	tests := []struct {
		in     string
		msg    string
		pos    int
		status int
	}{
		// ODL: trailing text after a complete expression.
		{"name eqq 'x'", "Syntax error at position 5 in 'name eqq 'x''.", 5, 400},
		{"name eq 'x' 'y'", "Syntax error at position 12 in 'name eq 'x' 'y''.", 12, 400},
		{"name = 'x'", "Syntax error at position 5 in 'name = 'x''.", 5, 400},
		{"name eq", "Expression expected at position 7 in 'name eq'.", 7, 400},
		{"", "Expression expected at position 0 in ''.", 0, 400},
		{"name eq 'x' and", "Expression expected at position 15 in 'name eq 'x' and'.", 15, 400},
		// Positions count UTF-16 code units, as .NET does.
		{"name eq 'é' and", "Expression expected at position 15 in 'name eq 'é' and'.", 15, 400},
		{"name eq '😀' and", "Expression expected at position 16 in 'name eq '😀' and'.", 16, 400},
		// Verbatim from filter-rows.md, "Manage single quotes".
		{"lastname eq 'O'Bryan'", "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''.", 21, 400},
		{"name eq 'abc", "There is an unterminated string literal at position 12 in 'name eq 'abc'.", 12, 400},
		{"(a eq 1", "')' or operator expected at position 7 in '(a eq 1'.", 7, 400},
		{"(a eq 1 b", "')' or operator expected at position 8 in '(a eq 1 b'.", 8, 400},
		{"contains(name 'x')", "')' or ',' expected at position 14 in 'contains(name 'x')'.", 14, 400},
		// Verbatim Dataverse answer quoted in AleksandrRogov/DynamicsWebApi#40:
		// an encoded '&' left inside $filter.
		{"Microsoft.Dynamics.CRM.LastXMonths(PropertyName=@p1,PropertyValue=@p2)&@p1='name'&p2=42",
			"Syntax error: character '&' is not valid at position 70 in 'Microsoft.Dynamics.CRM.LastXMonths(PropertyName=@p1,PropertyValue=@p2)&@p1='name'&p2=42'.", 70, 400},
		{"name eq #x", "Syntax error: character '#' is not valid at position 8 in 'name eq #x'.", 8, 400},
		{"name eq 'a' and é", "Syntax error: character 'é' is not valid at position 16 in 'name eq 'a' and é'.", 16, 400},
		// Verbatim from filter-rows.md: single quotes inside a JSON array.
		{"Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=['OBrian','OBryan','O'Brian','O'Bryan'])",
			"Invalid JSON. A comma character ',' was expected in scope 'Array'. Every two elements in an array and properties of an object must be separated by commas.", -1, 400},
		{"Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a',])", msgJSONUnexpectedComma, -1, 400},
		{"Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[,'a'])", msgJSONUnexpectedComma, -1, 400},
		{"Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[abc])", msgJSONUnrecognized, -1, 400},
		{`Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=["a\q"])`, `Invalid JSON. An unrecognized escape sequence '\q' was found in a JSON string value.`, -1, 400},
		{`Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=["\u12"])`, `Invalid JSON. An unrecognized escape sequence '\u12' was found in a JSON string value.`, -1, 400},
		{"Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=['a'", "Found an unbalanced bracket expression.", 58, 400},
		// The OData 4.01 in operator (AleksandrRogov/DynamicsWebApi#121).
		{"_new_assignment_value in ('a','b')", "The method or operation is not implemented.", 22, 501},
		{"tolower(name) eq 'x'", "An unknown function with name 'tolower' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", 0, 400},
		{"contains(name)", "No function signature for the function with name 'contains' matches the specified arguments. The function signatures considered are: contains(Edm.String Nullable=true, Edm.String Nullable=true).", 0, 400},
		{"Microsoft.Dynamics.CRM.Foo(PropertyName='x')", "An unknown function with name 'Microsoft.Dynamics.CRM.Foo' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", 0, 400},
		{"Microsoft.Dynamics.CRM.In(PropertyName='x')", "Could not find a function named 'Microsoft.Dynamics.CRM.In' with parameters 'PropertyName'.", 0, 400},
		{"Microsoft.Dynamics.CRM.LastXDays(PropertyName='x',PropertyValue=1,Extra=2)", "Could not find a function named 'Microsoft.Dynamics.CRM.LastXDays' with parameters 'PropertyName,PropertyValue,Extra'.", 0, 400},
		{"Microsoft.Dynamics.CRM.Today('x')", "Syntax error at position 29 in 'Microsoft.Dynamics.CRM.Today('x')'.", 29, 400},
		{"x eq 1.", "A digit was expected at position 7 in 'x eq 1.'.", 7, 400},
		{"x eq 1e", "A digit was expected at position 7 in 'x eq 1e'.", 7, 400},
		{"x eq 1e999", "Numeric string '1e999' is not a valid Int32/Int64/Double/Decimal.", 5, 400},
		{"x eq 2024-13-01", "Unrecognized 'Edm.Date' literal '2024-13-01' at '5' in 'x eq 2024-13-01'.", 5, 400},
		{"x eq 2024-01-02T25:00:00Z", "Unrecognized 'Edm.DateTimeOffset' literal '2024-01-02T25:00:00Z' at '5' in 'x eq 2024-01-02T25:00:00Z'.", 5, 400},
		// Without an offset the value is no DateTimeOffset.
		{"x eq 2024-01-02T03:04:05", "Unrecognized 'Edm.DateTimeOffset' literal '2024-01-02T03:04:05' at '5' in 'x eq 2024-01-02T03:04:05'.", 5, 400},
		{"x eq duration'P1D'", "Unrecognized 'duration' literal 'duration'P1D'' at '5' in 'x eq duration'P1D''.", 5, 400},
		{"x eq -y", "Expression expected at position 5 in 'x eq -y'.", 5, 400},
		{"a/ 1 eq 1", "Syntax error at position 3 in 'a/ 1 eq 1'.", 3, 400},
		// Blanks are skipped, so "eq" becomes a path segment.
		{"a/ eq 1", "Syntax error at position 6 in 'a/ eq 1'.", 6, 400},
		{"a/any(x x eq 1)", "Syntax error at position 8 in 'a/any(x x eq 1)'.", 8, 400},
		{"a/any(x:x eq 1", "')' or operator expected at position 14 in 'a/any(x:x eq 1'.", 14, 400},
		{deep, "Recursion depth exceeded allowed limit.", -1, 400},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 60)], func(t *testing.T) {
			e, err := ParseFilter(tt.in)
			if err == nil {
				t.Fatalf("ParseFilter = %s, want error %q", dump(e), tt.msg)
			}
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %T is not *Error", err)
			}
			if oe.Message != tt.msg {
				t.Errorf("message\n got %q\nwant %q", oe.Message, tt.msg)
			}
			if oe.Position != tt.pos {
				t.Errorf("position = %d, want %d", oe.Position, tt.pos)
			}
			if oe.Code != CodeQueryError {
				t.Errorf("code = %q", oe.Code)
			}
			if oe.StatusCode() != tt.status {
				t.Errorf("status = %d, want %d", oe.StatusCode(), tt.status)
			}
		})
	}
}

func TestErrorStatusDefault(t *testing.T) {
	if got := (&Error{}).StatusCode(); got != http.StatusBadRequest {
		t.Fatalf("zero Error status = %d", got)
	}
}

func TestQueryFunctionHelpers(t *testing.T) {
	e, err := ParseFilter("Microsoft.Dynamics.CRM.LastXDays(PropertyValue=7,PropertyName='createdon')")
	if err != nil {
		t.Fatal(err)
	}
	f := e.(*QueryFunction)
	if name, ok := f.PropertyName(); !ok || name != "createdon" {
		t.Errorf("PropertyName = %q, %v", name, ok)
	}
	if v, ok := f.Param("PropertyValue").(*Literal); !ok || v.Value != int64(7) {
		t.Errorf("PropertyValue = %v", f.Param("PropertyValue"))
	}
	if f.Param("Missing") != nil {
		t.Error("Param(Missing) should be nil")
	}
	spec, ok := LookupQueryFunction("InOrBeforeFiscalPeriodAndYear")
	if !ok || len(spec.Params) != 3 {
		t.Errorf("LookupQueryFunction = %+v, %v", spec, ok)
	}
	if _, ok := LookupQueryFunction("in"); ok {
		t.Error("query function names are case-sensitive")
	}
	// Every documented function parses with its own parameter list.
	for name, spec := range queryFunctions {
		var args []string
		for _, p := range spec.Params {
			v := "1"
			if p == "PropertyName" {
				v = "'createdon'"
			} else if p == "PropertyValues" {
				v = `["1","2"]`
			}
			args = append(args, p+"="+v)
		}
		text := queryFunctionNamespace + name + "(" + strings.Join(args, ",") + ")"
		if _, err := ParseFilter(text); err != nil {
			t.Errorf("%s: %v", text, err)
		}
	}
}

func TestWalkAndReferencedProperties(t *testing.T) {
	e, err := ParseFilter("name eq 'x' and (primarycontactid/fullname eq lastname or not contains(name,'y')) and " +
		"Microsoft.Dynamics.CRM.In(PropertyName='statuscode',PropertyValues=[\"1\"]) and " +
		"Account_Tasks/all(t:t/statecode eq 1 and t/regardingobjectid/name ne revenue)")
	if err != nil {
		t.Fatal(err)
	}
	got := ReferencedProperties(e)
	want := []string{"name", "primarycontactid/fullname", "lastname", "statuscode", "Account_Tasks", "revenue"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ReferencedProperties = %v, want %v", got, want)
	}

	var kinds []string
	Walk(e, func(n Expr) bool {
		switch n.(type) {
		case *Call:
			kinds = append(kinds, "call")
		case *QueryFunction:
			kinds = append(kinds, "qf")
			return false // skip its parameters
		case *ListLiteral:
			kinds = append(kinds, "list")
		case *LambdaExpr:
			kinds = append(kinds, "lambda")
		}
		return true
	})
	if strings.Join(kinds, ",") != "call,qf,lambda" {
		t.Errorf("Walk visited %v", kinds)
	}
	Walk(nil, func(Expr) bool { t.Error("visited nil"); return true })
}
