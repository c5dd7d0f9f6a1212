package odata

import (
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds recursion the way ODL's default FilterLimit (800) does, so
// a hostile "((((…" cannot exhaust the stack.
const maxDepth = 800

// queryFunctionNamespace prefixes every Dataverse query function.
const queryFunctionNamespace = "Microsoft.Dynamics.CRM."

// stringFunctions are the OData functions Dataverse accepts in $filter
// (filter-rows.md, "Use OData query functions"), with the signature text ODL
// prints when the arguments do not match.
var stringFunctions = map[string]string{
	"contains":   "contains(Edm.String Nullable=true, Edm.String Nullable=true)",
	"startswith": "startswith(Edm.String Nullable=true, Edm.String Nullable=true)",
	"endswith":   "endswith(Edm.String Nullable=true, Edm.String Nullable=true)",
}

// ParseFilter parses a $filter expression on its own. Parameter aliases in
// the text are null here, as for an alias the query does not assign; use
// ParseQuery to have them resolved.
func ParseFilter(text string) (Expr, error) {
	e, err := parseFilter(text, newAliasResolver(nil), true)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// aliasResolver returns the parsed value of an alias. aliasDepth counts how
// many aliases deep the caller already is, to stop @p1=@p2&@p2=@p1.
type aliasResolver func(name string, aliasDepth int) (Expr, *Error)

type parser struct {
	lx      *lexer
	aliases aliasResolver
	depth   int
	// aliasDepth is how many alias substitutions led to this text.
	aliasDepth int
	// allowAliases is false inside $expand, where Dataverse does not accept
	// parameter aliases.
	allowAliases bool
}

func parseFilter(text string, aliases aliasResolver, allowAliases bool) (Expr, *Error) {
	e, err := parseFilterDepth(text, aliases, allowAliases, 0)
	if err != nil {
		return nil, err
	}
	// ODL binds the parsed tree recursively and stops at the same limit
	// (MetadataBinder.Bind calls BindingState.RecurseEnter, bounded by
	// ODataUriParserSettings.FilterLimit, 800). The parser's own depth
	// count does not see a long chain such as a or b or c …, which parses
	// in a loop into a left-deep tree; binding it recurses once per
	// operator, so 999 chained comparisons are refused here, before any
	// SQL exists (issue 13).
	if height(e, map[Expr]int{}, maxDepth) > maxDepth {
		return nil, newError(-1, msgTooDeep)
	}
	return e, nil
}

// height is the number of nodes on the longest path from e down, counted
// no further than past limit. Shared subtrees (aliases) are measured once.
func height(e Expr, memo map[Expr]int, limit int) int {
	if e == nil || limit < 0 {
		return 0
	}
	if h, ok := memo[e]; ok {
		return h
	}
	h := 0
	child := func(c Expr) {
		if h <= limit {
			h = max(h, height(c, memo, limit-1))
		}
	}
	switch x := e.(type) {
	case *BinaryExpr:
		child(x.Left)
		child(x.Right)
	case *NotExpr:
		child(x.X)
	case *ListLiteral:
		for _, it := range x.Items {
			child(it)
		}
	case *Call:
		for _, a := range x.Args {
			child(a)
		}
	case *QueryFunction:
		for _, p := range x.Params {
			child(p.Value)
		}
	case *LambdaExpr:
		child(x.Body)
	}
	memo[e] = h + 1
	return h + 1
}

func parseFilterDepth(text string, aliases aliasResolver, allowAliases bool, aliasDepth int) (Expr, *Error) {
	p := &parser{lx: newLexer(text), aliases: aliases, allowAliases: allowAliases, aliasDepth: aliasDepth}
	e := p.parseExpr()
	if p.lx.err != nil {
		return nil, p.lx.err
	}
	if p.lx.tok.kind != tokEnd {
		return nil, p.syntaxError()
	}
	return e, nil
}

func (p *parser) fail(off int, format string, args ...any) Expr {
	p.lx.errorAt(off, format, args...)
	p.lx.next()
	return nil
}

func (p *parser) failed() bool { return p.lx.err != nil }

func (p *parser) syntaxError() *Error {
	t := p.lx.tok
	return newError(p.lx.pos16(t.pos), msgSyntaxError, p.lx.pos16(t.pos), p.lx.src)
}

func (p *parser) tokIs(ident string) bool {
	return p.lx.tok.kind == tokIdent && p.lx.tok.text == ident
}

func (p *parser) enter() bool {
	p.depth++
	if p.depth > maxDepth {
		p.lx.err = newError(-1, msgTooDeep)
		return false
	}
	return true
}

func (p *parser) leave() { p.depth-- }

func (p *parser) parseExpr() Expr {
	if !p.enter() {
		return nil
	}
	defer p.leave()
	return p.parseOr()
}

func (p *parser) parseOr() Expr {
	left := p.parseAnd()
	for !p.failed() && p.tokIs("or") {
		p.lx.next()
		right := p.parseAnd()
		left = &BinaryExpr{Op: OpOr, Left: left, Right: right}
	}
	return left
}

func (p *parser) parseAnd() Expr {
	left := p.parseComparison()
	for !p.failed() && p.tokIs("and") {
		p.lx.next()
		right := p.parseComparison()
		left = &BinaryExpr{Op: OpAnd, Left: left, Right: right}
	}
	return left
}

func (p *parser) parseComparison() Expr {
	left := p.parseUnary()
	for !p.failed() && p.lx.tok.kind == tokIdent {
		op := BinaryOp(p.lx.tok.text)
		if p.lx.tok.text == "in" {
			// OData 4.01's in operator: Dataverse (an OData 4.0 service) parses
			// it and then fails with .NET's NotImplementedException text, as
			// reported in AleksandrRogov/DynamicsWebApi#121. Status and code
			// are not recorded there; 501 matches Dataverse's NotImplemented
			// mapping in compose-http-requests-handle-errors.md.
			p.lx.err = &Error{Code: CodeQueryError, Message: "The method or operation is not implemented.", Position: p.lx.pos16(p.lx.tok.pos), Status: http.StatusNotImplemented}
			return nil
		}
		if !op.IsComparison() {
			break
		}
		p.lx.next()
		right := p.parseUnary()
		left = &BinaryExpr{Op: op, Left: left, Right: right}
	}
	return left
}

func (p *parser) parseUnary() Expr {
	if p.tokIs("not") {
		if !p.enter() {
			return nil
		}
		defer p.leave()
		p.lx.next()
		x := p.parseUnary()
		if p.failed() {
			return nil
		}
		return &NotExpr{X: x}
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() Expr {
	t := p.lx.tok
	switch t.kind {
	case tokOpenParen:
		p.lx.next()
		e := p.parseExpr()
		if p.failed() {
			return nil
		}
		if p.lx.tok.kind != tokCloseParen {
			return p.fail(p.lx.tok.pos, msgCloseParenOrOperator, p.lx.pos16(p.lx.tok.pos), p.lx.src)
		}
		p.lx.next()
		return e
	case tokAlias:
		return p.parseAlias()
	case tokBracket:
		// ODL reads a bracketed JSON array as a literal wherever an
		// expression may stand; only query function parameters give it a
		// meaning, which the server checks.
		return p.parseList()
	case tokIdent:
		return p.parseIdentifier()
	case tokString, tokInt, tokDecimal, tokGUID, tokDate, tokDateTimeOffset, tokEnum:
		lit, err := literalFromToken(t, p.lx.src)
		if err != nil {
			p.lx.err = err
			return nil
		}
		p.lx.next()
		return lit
	}
	if p.failed() {
		return nil
	}
	return p.fail(t.pos, msgExpressionExpected, p.lx.pos16(t.pos), p.lx.src)
}

func (p *parser) parseAlias() Expr {
	t := p.lx.tok
	if p.aliases == nil || !p.allowAliases {
		// Dataverse accepts aliases only in top-level $filter and $orderby
		// (overview.md, "Use parameter aliases with query options"). The
		// wording is ours: no Dataverse message is documented.
		p.lx.err = newError(p.lx.pos16(t.pos), "Parameter alias '%s' cannot be used here: Dataverse accepts parameter aliases only in $filter and $orderby, not inside $expand.", t.text)
		return nil
	}
	e, err := p.aliases(t.text, p.aliasDepth)
	if err != nil {
		p.lx.err = err
		return nil
	}
	p.lx.next()
	return e
}

func (p *parser) parseIdentifier() Expr {
	t := p.lx.tok
	switch t.text {
	case "null":
		p.lx.next()
		return &Literal{Kind: LitNull, Raw: t.text}
	case "true", "false":
		p.lx.next()
		return &Literal{Kind: LitBool, Value: t.text == "true", Raw: t.text}
	}
	// A name directly followed by '(' is a function call.
	if t.end < len(p.lx.src) && p.lx.src[t.end] == '(' {
		if strings.HasPrefix(t.text, queryFunctionNamespace) {
			return p.parseQueryFunction()
		}
		return p.parseCall()
	}
	return p.parsePath()
}

// parsePath reads a/b/c, and a lambda when a segment is any( or all(.
func (p *parser) parsePath() Expr {
	var path []string
	for {
		t := p.lx.tok
		if t.kind != tokIdent || strings.Contains(t.text, ".") {
			if t.kind == tokIdent || len(path) > 0 {
				// Type casts and qualified segments are not something
				// Dataverse filters on; report like ODL's lexer does.
				return p.fail(t.pos, msgSyntaxError, p.lx.pos16(t.pos), p.lx.src)
			}
			return p.fail(t.pos, msgExpressionExpected, p.lx.pos16(t.pos), p.lx.src)
		}
		if len(path) > 0 && (t.text == "any" || t.text == "all") && t.end < len(p.lx.src) && p.lx.src[t.end] == '(' {
			return p.parseLambda(path, LambdaKind(t.text))
		}
		path = append(path, t.text)
		p.lx.next()
		if p.lx.tok.kind != tokSlash {
			return &Property{Path: path}
		}
		p.lx.next()
	}
}

func (p *parser) parseLambda(path []string, kind LambdaKind) Expr {
	p.lx.next() // any/all
	p.lx.next() // (
	l := &LambdaExpr{Path: path, Kind: kind}
	if p.lx.tok.kind == tokCloseParen {
		p.lx.next()
		return l
	}
	if p.lx.tok.kind != tokIdent || strings.Contains(p.lx.tok.text, ".") {
		return p.fail(p.lx.tok.pos, msgSyntaxError, p.lx.pos16(p.lx.tok.pos), p.lx.src)
	}
	l.Var = p.lx.tok.text
	p.lx.next()
	if p.lx.tok.kind != tokColon {
		return p.fail(p.lx.tok.pos, msgSyntaxError, p.lx.pos16(p.lx.tok.pos), p.lx.src)
	}
	p.lx.next()
	l.Body = p.parseExpr()
	if p.failed() {
		return nil
	}
	if p.lx.tok.kind != tokCloseParen {
		return p.fail(p.lx.tok.pos, msgCloseParenOrOperator, p.lx.pos16(p.lx.tok.pos), p.lx.src)
	}
	p.lx.next()
	return l
}

func (p *parser) parseCall() Expr {
	name := p.lx.tok.text
	namePos := p.lx.tok.pos
	sig, known := stringFunctions[name]
	p.lx.next() // name
	p.lx.next() // (
	var args []Expr
	if p.lx.tok.kind == tokCloseParen {
		p.lx.next()
	} else {
		for {
			a := p.parseExpr()
			if p.failed() {
				return nil
			}
			args = append(args, a)
			if p.lx.tok.kind == tokComma {
				p.lx.next()
				continue
			}
			if p.lx.tok.kind == tokCloseParen {
				p.lx.next()
				break
			}
			return p.fail(p.lx.tok.pos, msgCloseParenOrComma, p.lx.pos16(p.lx.tok.pos), p.lx.src)
		}
	}
	if !known {
		p.lx.err = newError(p.lx.pos16(namePos), msgUnknownFunction, name)
		return nil
	}
	if len(args) != 2 {
		p.lx.err = newError(p.lx.pos16(namePos), "No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s.", name, sig)
		return nil
	}
	return &Call{Name: name, Args: args}
}

func (p *parser) parseQueryFunction() Expr {
	full := p.lx.tok.text
	namePos := p.lx.tok.pos
	f := &QueryFunction{Name: strings.TrimPrefix(full, queryFunctionNamespace)}
	p.lx.next() // name
	p.lx.next() // (
	if p.lx.tok.kind == tokCloseParen {
		p.lx.next()
	} else {
		for {
			t := p.lx.tok
			if t.kind != tokIdent || strings.Contains(t.text, ".") {
				return p.fail(t.pos, msgSyntaxError, p.lx.pos16(t.pos), p.lx.src)
			}
			p.lx.next()
			if p.lx.tok.kind != tokEqual {
				return p.fail(p.lx.tok.pos, msgSyntaxError, p.lx.pos16(p.lx.tok.pos), p.lx.src)
			}
			p.lx.next()
			v := p.parseExpr()
			if p.failed() {
				return nil
			}
			f.Params = append(f.Params, FunctionParam{Name: t.text, Value: v})
			if p.lx.tok.kind == tokComma {
				p.lx.next()
				continue
			}
			if p.lx.tok.kind == tokCloseParen {
				p.lx.next()
				break
			}
			return p.fail(p.lx.tok.pos, msgCloseParenOrComma, p.lx.pos16(p.lx.tok.pos), p.lx.src)
		}
	}
	if err := checkQueryFunction(f, full); err != nil {
		err.Position = p.lx.pos16(namePos)
		p.lx.err = err
		return nil
	}
	return f
}

// parseList parses the bracket token as the JSON array ODL's JSON reader
// sees: strings in double or single quotes with backslash escapes (a single
// quote is not doubled here), numbers, true, false and null. Dataverse's
// docs write PropertyValues=["a","b"] and quote the error an unescaped
// apostrophe produces (filter-rows.md, "Manage single quotes").
func (p *parser) parseList() Expr {
	list, err := parseJSONArray(p.lx.tok.text)
	if err != nil {
		p.lx.err = err
		return nil
	}
	p.lx.next()
	return list
}

// ODL JsonReader messages.
const (
	msgJSONMissingComma    = "Invalid JSON. A comma character ',' was expected in scope 'Array'. Every two elements in an array and properties of an object must be separated by commas."
	msgJSONUnexpectedComma = "Invalid JSON. An unexpected comma was found in scope 'Array'. A comma is only valid between properties of an object or between elements of an array."
	msgJSONUnrecognized    = "Invalid JSON. A token was not recognized in the JSON content."
	msgJSONEndOfString     = "Invalid JSON. Unexpected end of input reached while processing a JSON string value."
	msgJSONBadEscape       = "Invalid JSON. An unrecognized escape sequence '%s' was found in a JSON string value."
)

var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`)

// parseJSONArray reads text, which starts with '[' and ends with the
// matching ']'.
func parseJSONArray(text string) (*ListLiteral, *Error) {
	list := &ListLiteral{Items: []Expr{}}
	i := 1
	end := len(text) - 1
	skip := func() {
		for i < end && strings.IndexByte(" \t\r\n", text[i]) >= 0 {
			i++
		}
	}
	skip()
	if i == end {
		return list, nil
	}
	for {
		skip()
		if i >= end {
			return nil, newError(-1, msgJSONUnrecognized)
		}
		var item *Literal
		switch c := text[i]; {
		case c == ',':
			return nil, newError(-1, msgJSONUnexpectedComma)
		case c == '"' || c == '\'':
			n, ok := scanJSONString(text[i:end])
			if !ok {
				return nil, newError(-1, msgJSONEndOfString)
			}
			v, err := unescapeJSON(text[i+1 : i+n-1])
			if err != nil {
				return nil, err
			}
			item = &Literal{Kind: LitString, Value: v, Raw: text[i : i+n]}
			i += n
		default:
			word := text[i:end]
			switch {
			case strings.HasPrefix(word, "null"):
				item, i = &Literal{Kind: LitNull, Raw: "null"}, i+4
			case strings.HasPrefix(word, "true"):
				item, i = &Literal{Kind: LitBool, Value: true, Raw: "true"}, i+4
			case strings.HasPrefix(word, "false"):
				item, i = &Literal{Kind: LitBool, Value: false, Raw: "false"}, i+5
			default:
				m := jsonNumberRE.FindString(word)
				if m == "" {
					return nil, newError(-1, msgJSONUnrecognized)
				}
				kind := tokInt
				if strings.ContainsAny(m, ".eE") {
					kind = tokDecimal
				}
				lit, err := literalFromToken(token{kind: kind, text: m}, m)
				if err != nil {
					return nil, err
				}
				item, i = lit, i+len(m)
			}
		}
		list.Items = append(list.Items, item)
		skip()
		if i == end {
			return list, nil
		}
		if text[i] != ',' {
			if isIdentChar(text[i]) || text[i] == '"' || text[i] == '\'' || text[i] == '[' || text[i] == '{' || text[i] == '-' {
				return nil, newError(-1, msgJSONMissingComma)
			}
			return nil, newError(-1, msgJSONUnrecognized)
		}
		i++
		skip()
		if i == end {
			return nil, newError(-1, msgJSONUnexpectedComma)
		}
	}
}

// unescapeJSON decodes the backslash escapes of a JSON string body.
func unescapeJSON(s string) (string, *Error) {
	if !strings.Contains(s, "\\") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", newError(-1, msgJSONEndOfString)
		}
		switch s[i] {
		case '"', '\'', '\\', '/':
			b.WriteByte(s[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if i+5 > len(s) {
				return "", newError(-1, msgJSONBadEscape, "\\u"+s[i+1:])
			}
			n, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", newError(-1, msgJSONBadEscape, "\\u"+s[i+1:i+5])
			}
			r := rune(n)
			// Join a UTF-16 surrogate pair written as two escapes.
			if utf16.IsSurrogate(r) && i+11 <= len(s) && s[i+5] == '\\' && s[i+6] == 'u' {
				if n2, err := strconv.ParseUint(s[i+7:i+11], 16, 16); err == nil {
					if pr := utf16.DecodeRune(r, rune(n2)); pr != utf8.RuneError {
						b.WriteRune(pr)
						i += 10
						continue
					}
				}
			}
			b.WriteRune(r)
			i += 4
		default:
			return "", newError(-1, msgJSONBadEscape, "\\"+string(s[i]))
		}
	}
	return b.String(), nil
}

// literalFromToken converts a literal token; src is the text the token's
// offsets refer to (for error messages).
func literalFromToken(t token, src string) (*Literal, *Error) {
	// Only errors need the UTF-16 position; computing it is O(len(src)).
	pos := func() int { return utf16Pos(src, t.pos) }
	switch t.kind {
	case tokString:
		v, _, _ := scanQuoted(t.text)
		return &Literal{Kind: LitString, Value: v, Raw: t.text}, nil
	case tokInt:
		if n, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return &Literal{Kind: LitInt, Value: n, Raw: t.text}, nil
		}
		// Beyond Int64 ODL falls back to Decimal.
		fallthrough
	case tokDecimal:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, newError(pos(), msgInvalidNumeric, t.text)
		}
		return &Literal{Kind: LitDecimal, Value: f, Raw: t.text}, nil
	case tokGUID:
		return &Literal{Kind: LitGUID, Value: strings.ToLower(t.text), Raw: t.text}, nil
	case tokDate:
		d, err := time.Parse("2006-01-02", t.text)
		if err != nil {
			return nil, newError(pos(), msgUnrecognizedLiteral, "Edm.Date", t.text, pos(), src)
		}
		return &Literal{Kind: LitDate, Value: d, Raw: t.text}, nil
	case tokDateTimeOffset:
		d, err := time.Parse(time.RFC3339Nano, withSeconds(t.text))
		if err != nil {
			return nil, newError(pos(), msgUnrecognizedLiteral, "Edm.DateTimeOffset", t.text, pos(), src)
		}
		return &Literal{Kind: LitDateTimeOffset, Value: d, Raw: t.text}, nil
	case tokEnum:
		q := strings.IndexByte(t.text, '\'')
		member, _, _ := scanQuoted(t.text[q:])
		return &Literal{Kind: LitEnum, Value: EnumValue{Type: t.text[:q], Member: member}, Raw: t.text}, nil
	}
	return nil, newError(pos(), msgExpressionExpected, pos(), src)
}

// withSeconds adds ":00" to a DateTimeOffset written without seconds
// (2024-01-02T03:04Z), which OData allows and RFC 3339 does not.
func withSeconds(s string) string {
	if len(s) > 16 && s[13] == ':' && s[16] != ':' {
		return s[:16] + ":00" + s[16:]
	}
	return s
}
