package odata

import "strings"

// Walk visits e and its children depth-first, parents before children. When
// fn returns false the children of that node are skipped.
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch x := e.(type) {
	case *BinaryExpr:
		Walk(x.Left, fn)
		Walk(x.Right, fn)
	case *NotExpr:
		Walk(x.X, fn)
	case *ListLiteral:
		for _, it := range x.Items {
			Walk(it, fn)
		}
	case *Call:
		for _, a := range x.Args {
			Walk(a, fn)
		}
	case *QueryFunction:
		for _, p := range x.Params {
			Walk(p.Value, fn)
		}
	case *LambdaExpr:
		Walk(x.Body, fn)
	}
}

// ReferencedProperties lists, once each and in order of first use, the
// property paths e reads, joined with "/": plain properties, the PropertyName
// of Dataverse query functions, and the collection path of a lambda. Paths
// inside a lambda body that start with the lambda variable belong to the
// related table and are left out.
func ReferencedProperties(e Expr) []string {
	var out []string
	seen := map[string]bool{}
	addPath := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	var visit func(e Expr, vars []string)
	visit = func(e Expr, vars []string) {
		Walk(e, func(n Expr) bool {
			switch x := n.(type) {
			case *Property:
				for _, v := range vars {
					if x.Path[0] == v {
						return false
					}
				}
				addPath(strings.Join(x.Path, "/"))
			case *QueryFunction:
				if name, ok := x.PropertyName(); ok {
					addPath(name)
				}
			case *LambdaExpr:
				addPath(strings.Join(x.Path, "/"))
				if x.Body != nil {
					visit(x.Body, append(vars[:len(vars):len(vars)], x.Var))
				}
				return false
			}
			return true
		})
	}
	visit(e, nil)
	return out
}
