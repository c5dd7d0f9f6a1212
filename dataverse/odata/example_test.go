package odata_test

import (
	"fmt"
	"strings"

	"github.com/dvsync/dvsync/dataverse/odata"
)

// A server turns the AST into SQL by walking it with a type switch; this
// sketch renders a WHERE clause with placeholders and never splices literal
// values into the text.
func Example() {
	q, err := odata.ParseQuery("$select=title&$filter=statecode%20eq%200%20and%20contains(title,'printer')&$orderby=createdon%20desc&$top=10")
	if err != nil {
		fmt.Println(err)
		return
	}
	var args []any
	var sql func(e odata.Expr) string
	sql = func(e odata.Expr) string {
		switch x := e.(type) {
		case *odata.BinaryExpr:
			ops := map[odata.BinaryOp]string{odata.OpEq: "=", odata.OpNe: "<>", odata.OpGt: ">", odata.OpGe: ">=", odata.OpLt: "<", odata.OpLe: "<=", odata.OpAnd: "AND", odata.OpOr: "OR"}
			return "(" + sql(x.Left) + " " + ops[x.Op] + " " + sql(x.Right) + ")"
		case *odata.NotExpr:
			return "NOT " + sql(x.X)
		case *odata.Property:
			return `"` + strings.Join(x.Path, ".") + `"`
		case *odata.Literal:
			args = append(args, x.Value)
			return "?"
		case *odata.Call: // contains(prop,'lit')
			args = append(args, "%"+x.Args[1].(*odata.Literal).Value.(string)+"%")
			return sql(x.Args[0]) + " LIKE ?"
		}
		return "?unsupported?"
	}
	fmt.Println(sql(q.Filter), args)
	fmt.Println(q.Select, q.OrderBy[0].Path, q.OrderBy[0].Desc, *q.Top)
	fmt.Println(odata.ReferencedProperties(q.Filter))
	fmt.Println(odata.Format(q.Filter))
	// Output:
	// (("statecode" = ?) AND "title" LIKE ?) [0 %printer%]
	// [title] [createdon] true 10
	// [statecode title]
	// statecode eq 0 and contains(title,'printer')
}

func ExampleError() {
	_, err := odata.ParseQuery("$filter=name%20eqq%20'x'")
	if e, ok := err.(*odata.Error); ok {
		fmt.Println(e.StatusCode(), e.Code, e.Message)
	}
	_, err = odata.ParseQuery("$skip=10")
	fmt.Println(err)
	// Output:
	// 400 0x80060888 Syntax error at position 5 in 'name eqq 'x''.
	// The query parameter $skip is not supported
}
