package odata

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Format renders e as canonical OData $filter text that ParseFilter reads
// back to the same tree: single spaces around operators, parentheses only
// where precedence needs them, strings re-escaped (” for '), list items as
// JSON strings. Numbers, dates and GUIDs keep the client's spelling (Raw)
// when there is one, so exact decimal digits survive a round trip.
//
// The result is not URL-encoded; see (*Query).Encode for a query string.
func Format(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e, precLowest)
	return b.String()
}

// Precedence levels, lowest first.
const (
	precLowest = iota
	precOr
	precAnd
	precComparison
	precUnary
)

func precedence(e Expr) int {
	switch x := e.(type) {
	case *BinaryExpr:
		switch x.Op {
		case OpOr:
			return precOr
		case OpAnd:
			return precAnd
		default:
			return precComparison
		}
	case *NotExpr:
		return precUnary
	}
	return precUnary + 1
}

// writeExpr writes e, parenthesized when its precedence is below min.
func writeExpr(b *strings.Builder, e Expr, min int) {
	if precedence(e) < min {
		b.WriteByte('(')
		writeExpr(b, e, precLowest)
		b.WriteByte(')')
		return
	}
	switch x := e.(type) {
	case nil:
		b.WriteString("null")
	case *BinaryExpr:
		p := precedence(x)
		// Left associative: the right operand needs parentheses at equal
		// precedence, the left one does not.
		writeExpr(b, x.Left, p)
		b.WriteByte(' ')
		b.WriteString(string(x.Op))
		b.WriteByte(' ')
		writeExpr(b, x.Right, p+1)
	case *NotExpr:
		b.WriteString("not ")
		writeExpr(b, x.X, precUnary)
	case *Property:
		b.WriteString(strings.Join(x.Path, "/"))
	case *Literal:
		writeLiteral(b, x, false)
	case *ListLiteral:
		b.WriteByte('[')
		for i, it := range x.Items {
			if i > 0 {
				b.WriteByte(',')
			}
			if lit, ok := it.(*Literal); ok {
				writeLiteral(b, lit, true)
			} else {
				writeExpr(b, it, precLowest)
			}
		}
		b.WriteByte(']')
	case *Call:
		b.WriteString(x.Name)
		b.WriteByte('(')
		for i, a := range x.Args {
			if i > 0 {
				b.WriteByte(',')
			}
			writeExpr(b, a, precLowest)
		}
		b.WriteByte(')')
	case *QueryFunction:
		b.WriteString(queryFunctionNamespace)
		b.WriteString(x.Name)
		b.WriteByte('(')
		for i, p := range x.Params {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(p.Name)
			b.WriteByte('=')
			writeExpr(b, p.Value, precLowest)
		}
		b.WriteByte(')')
	case *LambdaExpr:
		b.WriteString(strings.Join(x.Path, "/"))
		b.WriteByte('/')
		b.WriteString(string(x.Kind))
		b.WriteByte('(')
		if x.Body != nil {
			b.WriteString(x.Var)
			b.WriteByte(':')
			writeExpr(b, x.Body, precLowest)
		}
		b.WriteByte(')')
	}
}

func writeLiteral(b *strings.Builder, l *Literal, inList bool) {
	switch l.Kind {
	case LitNull:
		b.WriteString("null")
	case LitBool:
		if v, _ := l.Value.(bool); v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case LitString:
		s, _ := l.Value.(string)
		if inList {
			writeJSONString(b, s)
			return
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(s, "'", "''"))
		b.WriteByte('\'')
	case LitInt:
		if l.Raw != "" {
			b.WriteString(l.Raw)
			return
		}
		v, _ := l.Value.(int64)
		b.WriteString(strconv.FormatInt(v, 10))
	case LitDecimal:
		if l.Raw != "" {
			b.WriteString(l.Raw)
			return
		}
		v, _ := l.Value.(float64)
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		b.WriteString(s)
	case LitGUID:
		s, _ := l.Value.(string)
		b.WriteString(s)
	case LitDateTimeOffset:
		if l.Raw != "" {
			b.WriteString(l.Raw)
			return
		}
		t, _ := l.Value.(time.Time)
		b.WriteString(t.Format(time.RFC3339Nano))
	case LitDate:
		t, _ := l.Value.(time.Time)
		b.WriteString(t.Format("2006-01-02"))
	case LitEnum:
		v, _ := l.Value.(EnumValue)
		b.WriteString(v.Type)
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(v.Member, "'", "''"))
		b.WriteByte('\'')
	}
}

// writeJSONString writes s as a JSON string without HTML escaping.
func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		case r == utf8.RuneError && size == 1:
			// Keep invalid bytes as they came so the value round-trips.
			b.WriteByte(s[i])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}
