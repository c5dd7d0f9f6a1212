package odata

import (
	"math"
	"strconv"
	"strings"
)

// supportedOptions are the system query options Dataverse implements on
// entity sets (overview.md, "OData query options") plus the paging and
// change-tracking tokens that appear in the links it hands out.
var supportedOptions = map[string]bool{
	"$select": true, "$filter": true, "$orderby": true, "$top": true,
	"$expand": true, "$count": true, "$apply": true,
	"$skiptoken": true, "$deltatoken": true,
}

// ParseQuery parses the raw query string of a request (the part after '?',
// still percent-encoded) into its system query options.
//
// Decoding follows ASP.NET's form rules, which Dataverse's front end uses:
// %XX is decoded, '+' means a space (so a literal plus, e.g. in a
// DateTimeOffset offset, must be sent as %2B), and a malformed %-sequence is
// kept as written instead of failing. Pairs are split on '&' only: ';'
// belongs to $expand's nested options and is not a separator.
//
// Option names are case-sensitive. $skip, $search, $format and any other
// unknown $-option are refused with Dataverse's "The query parameter … is not
// supported". Of the parameters that start with neither '$' nor '@', fetchXml
// (use-fetchxml-web-api.md) is kept in Query.FetchXML; every other one,
// including savedQuery and userQuery, which the reference server does not
// implement, is refused the same way rather than silently dropped. Aliases
// (@p1=…) are substituted into $filter and $orderby; an alias that is used
// but not given is null, as overview.md documents.
func ParseQuery(rawQuery string) (*Query, error) {
	q, err := parseQuery(rawQuery)
	if err != nil {
		return nil, err
	}
	return q, nil
}

func parseQuery(rawQuery string) (*Query, *Error) {
	options := map[string]string{}
	aliases := map[string]string{}
	var order []string
	for _, pair := range strings.Split(rawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, value := formDecode(k), formDecode(v)
		switch {
		case strings.HasPrefix(key, "$"):
			if !supportedOptions[key] {
				return nil, newError(-1, msgQueryParamNotSupported, key)
			}
			if _, dup := options[key]; dup {
				return nil, newError(-1, msgSpecifiedOnce, key)
			}
			options[key] = value
			order = append(order, key)
		case strings.HasPrefix(key, "@"):
			if _, dup := aliases[key]; dup {
				return nil, newError(-1, msgSpecifiedOnce, key)
			}
			aliases[key] = value
		case key == "fetchXml":
			if _, dup := options[key]; dup {
				return nil, newError(-1, msgSpecifiedOnce, key)
			}
			options[key] = value
			order = append(order, key)
		default:
			return nil, newError(-1, msgQueryParamNotSupported, key)
		}
	}
	if _, ok := options["fetchXml"]; ok {
		// A FetchXML query carries its own columns, filter, order, joins and
		// paging; Dataverse accepts only $count beside it (page-results.md
		// sends fetchXml with $count=true).
		for _, k := range order {
			if k != "fetchXml" && k != "$count" {
				return nil, newError(-1, msgFetchXMLWithOption, k)
			}
		}
	}

	q := &Query{}
	resolve := newAliasResolver(aliases)
	for _, key := range order {
		value := options[key]
		// ODL's query option parser treats an empty $filter, $orderby,
		// $select or $expand as absent.
		if value == "" && (key == "$filter" || key == "$orderby" || key == "$select" || key == "$expand") {
			continue
		}
		var err *Error
		switch key {
		case "$select":
			q.Select, err = parseSelect(value)
		case "$filter":
			q.Filter, err = parseFilter(value, resolve, true)
			if err == nil && len(aliases) > 0 && expandedSize(q.Filter, map[Expr]int{}, maxExpandedNodes) > maxExpandedNodes {
				// Our wording: Dataverse's limit here is not documented.
				err = newError(-1, "The $filter expression is too large once parameter aliases are substituted (more than %d nodes).", maxExpandedNodes)
			}
		case "$orderby":
			q.OrderBy, err = parseOrderBy(value, resolve, true)
		case "$top":
			q.Top, err = parseTop(value)
		case "$expand":
			q.Expand, err = parseExpand(value, 0)
			if err == nil && countExpands(q.Expand) > maxExpands {
				// join-tables.md: "You can include up to 15 $expand options
				// in a query", nested ones included.
				err = newError(-1, msgTooManyExpands)
			}
		case "$count":
			switch strings.TrimSpace(value) {
			case "true":
				q.Count = true
			case "false":
			default:
				err = newError(-1, msgInvalidCount, value)
			}
		case "$apply":
			q.Apply, err = ParseApply(value)
		case "fetchXml":
			q.FetchXML = value
		case "$skiptoken":
			q.SkipToken = value
		case "$deltatoken":
			q.DeltaToken = value
		}
		if err != nil {
			return nil, err
		}
	}
	return q, nil
}

// formDecode decodes %XX and '+' like ASP.NET's HttpUtility.UrlDecode:
// invalid escapes are kept literally.
func formDecode(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s)+0 && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// maxAliasDepth bounds alias chains (@p1=@p2, @p2=@p1).
const maxAliasDepth = 8

// newAliasResolver parses each alias value once. An alias used several
// times yields the same subtree each time, so the tree is a DAG; callers
// must treat it as read-only.
func newAliasResolver(aliases map[string]string) aliasResolver {
	cache := map[string]Expr{}
	var resolve aliasResolver
	resolve = func(name string, depth int) (Expr, *Error) {
		if e, ok := cache[name]; ok {
			return e, nil
		}
		text, ok := aliases[name]
		if !ok {
			return &Literal{Kind: LitNull}, nil
		}
		if depth >= maxAliasDepth {
			return nil, newError(-1, msgTooDeep)
		}
		e, err := parseFilterDepth(text, resolve, true, depth+1)
		if err != nil {
			return nil, err
		}
		cache[name] = e
		return e, nil
	}
	return resolve
}

// maxExpandedNodes bounds the size of a filter once aliases are substituted.
// Without aliases a 32 KB URL cannot come near it; with them, an alias
// repeating another alias thousands of times could multiply the tree that
// the server translates and that Format writes into @odata.nextLink.
const maxExpandedNodes = 100_000

// expandedSize counts the nodes of e as if shared subtrees were copied,
// stopping early once past limit.
func expandedSize(e Expr, memo map[Expr]int, limit int) int {
	if e == nil {
		return 0
	}
	if n, ok := memo[e]; ok {
		return n
	}
	n := 1
	add := func(c Expr) {
		if n <= limit {
			n += expandedSize(c, memo, limit)
		}
	}
	switch x := e.(type) {
	case *BinaryExpr:
		add(x.Left)
		add(x.Right)
	case *NotExpr:
		add(x.X)
	case *ListLiteral:
		for _, it := range x.Items {
			add(it)
		}
	case *Call:
		for _, a := range x.Args {
			add(a)
		}
	case *QueryFunction:
		for _, p := range x.Params {
			add(p.Value)
		}
	case *LambdaExpr:
		add(x.Body)
	}
	memo[e] = n
	return n
}

// parseSelect splits $select into names. ODL skips blanks around items.
func parseSelect(value string) ([]string, *Error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	items := strings.Split(value, ",")
	out := make([]string, 0, len(items))
	for _, it := range items {
		name := strings.TrimSpace(it)
		if name != "*" && !isIdentifier(name) {
			return nil, newError(-1, msgTermNotValid, value)
		}
		out = append(out, name)
	}
	return out, nil
}

func isIdentifier(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// parseTop reads $top as ODL does, with .NET's long.TryParse: blanks around
// the number and a leading sign are allowed, the value must not be negative.
func parseTop(value string) (*int, *Error) {
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt {
		return nil, newError(-1, msgInvalidTop, value)
	}
	top := int(n)
	return &top, nil
}

// parseOrderBy parses "a asc, b/c desc". Each key must come out as a
// property path (after alias substitution); Dataverse orders by columns only.
func parseOrderBy(value string, aliases aliasResolver, allowAliases bool) ([]OrderItem, *Error) {
	p := &parser{lx: newLexer(value), aliases: aliases, allowAliases: allowAliases}
	var out []OrderItem
	for {
		start := p.lx.tok.pos
		e := p.parseExpr()
		if p.lx.err != nil {
			return nil, p.lx.err
		}
		prop, ok := e.(*Property)
		if !ok {
			return nil, newError(p.lx.pos16(start), "The $orderby expression '%s' is not a property: Dataverse sorts by columns only.", strings.TrimSpace(value[start:p.lx.tok.pos]))
		}
		item := OrderItem{Path: prop.Path}
		if p.tokIs("asc") || p.tokIs("desc") {
			item.Desc = p.lx.tok.text == "desc"
			p.lx.next()
		}
		out = append(out, item)
		switch p.lx.tok.kind {
		case tokComma:
			p.lx.next()
			continue
		case tokEnd:
			if p.lx.err != nil {
				return nil, p.lx.err
			}
			return out, nil
		}
		return nil, p.syntaxError()
	}
}

// maxExpands is how many $expand options one query may hold in all.
const maxExpands = 15

func countExpands(items []ExpandItem) int {
	n := len(items)
	for _, it := range items {
		n += countExpands(it.Expand)
	}
	return n
}

// maxExpandDepth bounds nested $expand recursion.
const maxExpandDepth = 16

// nestedOptions are the options Dataverse accepts inside $expand(...)
// (join-tables.md); $skip, $count and $levels are not among them.
var nestedOptions = map[string]bool{"$select": true, "$filter": true, "$orderby": true, "$top": true, "$expand": true}

// parseExpand parses "nav1($select=a,b;$filter=…),nav2".
func parseExpand(value string, depth int) ([]ExpandItem, *Error) {
	if depth > maxExpandDepth {
		return nil, newError(-1, msgTooDeep)
	}
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	parts, err := splitTopLevel(value, ',')
	if err != nil {
		return nil, err
	}
	out := make([]ExpandItem, 0, len(parts))
	for _, part := range parts {
		part = strings.TrimSpace(part)
		name, rest, hasOpts := strings.Cut(part, "(")
		name = strings.TrimSpace(name)
		name, isRef := strings.CutSuffix(name, "/$ref")
		if !isIdentifier(name) || (isRef && hasOpts) {
			return nil, newError(-1, msgTermNotValid, part)
		}
		item := ExpandItem{Property: name, Ref: isRef}
		if hasOpts {
			if !strings.HasSuffix(rest, ")") {
				return nil, newError(-1, msgTermNotValid, part)
			}
			inner := rest[:len(rest)-1]
			if strings.TrimSpace(inner) == "" {
				return nil, newError(-1, msgMissingExpandOption, name)
			}
			opts, err := splitTopLevel(inner, ';')
			if err != nil {
				return nil, err
			}
			seen := map[string]bool{}
			for _, opt := range opts {
				k, v, ok := strings.Cut(opt, "=")
				k = strings.TrimSpace(k)
				if !ok || !strings.HasPrefix(k, "$") {
					return nil, newError(-1, msgTermNotValid, part)
				}
				if !nestedOptions[k] {
					return nil, newError(-1, msgQueryParamNotSupported, k)
				}
				if seen[k] {
					return nil, newError(-1, msgSpecifiedOnce, k)
				}
				seen[k] = true
				var err *Error
				switch k {
				case "$select":
					item.Select, err = parseSelect(v)
				case "$filter":
					item.Filter, err = parseFilter(v, nil, false)
				case "$orderby":
					item.OrderBy, err = parseOrderBy(v, nil, false)
				case "$top":
					if item.Top, err = parseTop(strings.TrimSpace(v)); err != nil {
						err = newError(-1, msgInvalidTopOption, v)
					}
				case "$expand":
					item.Expand, err = parseExpand(v, depth+1)
				}
				if err != nil {
					return nil, err
				}
			}
		}
		out = append(out, item)
	}
	return out, nil
}

// splitTopLevel splits s on sep outside parentheses, brackets and quoted
// strings ('…' with ” doubling outside brackets, JSON strings inside).
func splitTopLevel(s string, sep byte) ([]string, *Error) {
	var parts []string
	parens, brackets, start := 0, 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"':
			var n int
			var ok bool
			if brackets > 0 || c == '"' {
				n, ok = scanJSONString(s[i:])
			} else {
				_, n, ok = scanQuoted(s[i:])
			}
			if !ok {
				return nil, newError(utf16Pos(s, len(s)), msgUnterminatedString, utf16Pos(s, len(s)), s)
			}
			i += n - 1
		case '(':
			parens++
		case ')':
			parens--
			if parens < 0 {
				return nil, newError(utf16Pos(s, i), msgSyntaxError, utf16Pos(s, i), s)
			}
		case '[':
			brackets++
		case ']':
			if brackets > 0 {
				brackets--
			}
		default:
			if c == sep && parens == 0 && brackets == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if parens != 0 {
		return nil, newError(utf16Pos(s, len(s)), msgCloseParenOrComma, utf16Pos(s, len(s)), s)
	}
	return append(parts, s[start:]), nil
}

// Encode renders q as a canonical, percent-encoded query string (spaces as
// %20), suitable for @odata.nextLink: options in a fixed order, aliases
// already substituted.
func (q *Query) Encode() string {
	var parts []string
	add := func(k, v string) {
		parts = append(parts, k+"="+queryEscape(v))
	}
	if q.Select != nil {
		add("$select", strings.Join(q.Select, ","))
	}
	if q.Expand != nil {
		add("$expand", formatExpand(q.Expand))
	}
	if q.Filter != nil {
		add("$filter", Format(q.Filter))
	}
	if q.OrderBy != nil {
		add("$orderby", formatOrderBy(q.OrderBy))
	}
	if q.Top != nil {
		add("$top", strconv.Itoa(*q.Top))
	}
	if q.Count {
		add("$count", "true")
	}
	if q.SkipToken != "" {
		add("$skiptoken", q.SkipToken)
	}
	if q.DeltaToken != "" {
		add("$deltatoken", q.DeltaToken)
	}
	return strings.Join(parts, "&")
}

// queryEscape percent-encodes v for use as a query value. It keeps the
// characters OData text is made of and RFC 3986 allows in a query ($ ' ( ) ,
// ; = : @ /) readable, and encodes the rest, with %20 for a space: '+' would
// read back as a space, and '&' and '#' would end the value.
func queryEscape(v string) string {
	const keep = "-._~!$'()*,;=:@/?"
	var b strings.Builder
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func formatOrderBy(items []OrderItem) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.Join(it.Path, "/"))
		if it.Desc {
			b.WriteString(" desc")
		}
	}
	return b.String()
}

func formatExpand(items []ExpandItem) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(it.Property)
		if it.Ref {
			b.WriteString("/$ref")
		}
		var opts []string
		if it.Select != nil {
			opts = append(opts, "$select="+strings.Join(it.Select, ","))
		}
		if it.Filter != nil {
			opts = append(opts, "$filter="+Format(it.Filter))
		}
		if it.OrderBy != nil {
			opts = append(opts, "$orderby="+formatOrderBy(it.OrderBy))
		}
		if it.Top != nil {
			opts = append(opts, "$top="+strconv.Itoa(*it.Top))
		}
		if it.Expand != nil {
			opts = append(opts, "$expand="+formatExpand(it.Expand))
		}
		if len(opts) > 0 {
			b.WriteByte('(')
			b.WriteString(strings.Join(opts, ";"))
			b.WriteByte(')')
		}
	}
	return b.String()
}
