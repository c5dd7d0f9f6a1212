package usd

import (
	"fmt"
	"strings"
)

// Replacement parameters are USD's template language: [[key]] or
// [[key]modifiers] pulls a value from the session context, and the inline
// handlers $Expression(...) and $Multiline(...) evaluate or wrap text.
// Syntax: learn.microsoft.com/dynamics365/unified-service-desk/replacement-parameters
// and .../use-replacement-parameters-configure-unified-service-desk.

// Pos is a location in a parsed string: byte offset, and 1-based line and
// column (columns count bytes, like the Go toolchain).
type Pos struct {
	Offset int `json:"offset"`
	Line   int `json:"line"`
	Column int `json:"column"`
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// Node is an element of a parsed template.
type Node interface {
	Start() Pos
	End() Pos
	node()
}

// Text is literal text between parameters.
type Text struct {
	From, To Pos
	Value    string
}

// Param is a replacement parameter [[Source.Key]Modifiers].
type Param struct {
	From, To Pos
	// Raw is the parameter as written, brackets included.
	Raw string
	// Source is the part before the first dot: a lower-case entity logical
	// name (the last loaded record of that type), a hosted control name
	// (the record in that tab), or a system group such as $Context.
	// Parameters without a dot ([[url]] in navigation rule conditions) have
	// an empty Source.
	Source string
	// Key is the rest after the first dot, possibly empty.
	Key string
	// Nested holds parameters inside the key ([[$Context.[[x]]]v]).
	Nested []*Param
	// Modifiers are the replacement keys after the inner bracket: + $ ^ u x g a v.
	Modifiers string
}

// Handler is an inline handler such as $Expression(...) or $Multiline(...).
type Handler struct {
	From, To Pos
	Name     string // Expression, Multiline
	// Body is the text between the parentheses; Params are the
	// replacement parameters inside it, which USD resolves first.
	Body   string
	Params []*Param
}

func (t *Text) Start() Pos    { return t.From }
func (t *Text) End() Pos      { return t.To }
func (*Text) node()           {}
func (p *Param) Start() Pos   { return p.From }
func (p *Param) End() Pos     { return p.To }
func (*Param) node()          {}
func (h *Handler) Start() Pos { return h.From }
func (h *Handler) End() Pos   { return h.To }
func (*Handler) node()        {}

// SystemGroup reports whether the parameter reads a USD system group
// ($Context, $Session, ...), as opposed to entity data.
func (p *Param) SystemGroup() bool { return strings.HasPrefix(p.Source, "$") }

// Optional reports the + modifier: a missing value becomes empty instead of
// aborting the action call.
func (p *Param) Optional() bool { return strings.Contains(p.Modifiers, "+") }

// SystemGroups are the documented system parameter groups.
var SystemGroups = []string{"$Context", "$Debug", "$Global", "$Panel", "$Resources", "$Return", "$Session",
	"$Settings", "$Subject", "$SystemParameters", "$User"}

// Modifiers are the documented replacement keys.
const Modifiers = "+$^uxgav"

var handlers = []string{"Expression", "Multiline"}

// Template is a parsed string.
type Template struct {
	Nodes []Node
}

// Params lists every parameter, including those inside handlers and keys,
// in source order.
func (t *Template) Params() []*Param {
	var out []*Param
	var walk func(p *Param)
	walk = func(p *Param) {
		out = append(out, p)
		for _, n := range p.Nested {
			walk(n)
		}
	}
	for _, n := range t.Nodes {
		switch n := n.(type) {
		case *Param:
			walk(n)
		case *Handler:
			for _, p := range n.Params {
				walk(p)
			}
		}
	}
	return out
}

// Handlers lists the inline handlers.
func (t *Template) Handlers() []*Handler {
	var out []*Handler
	for _, n := range t.Nodes {
		if h, ok := n.(*Handler); ok {
			out = append(out, h)
		}
	}
	return out
}

// HasParams reports whether the template uses any parameter or handler.
func (t *Template) HasParams() bool {
	for _, n := range t.Nodes {
		if _, ok := n.(*Text); !ok {
			return true
		}
	}
	return false
}

// SyntaxError is an unparseable parameter with its location.
type SyntaxError struct {
	Pos Pos    `json:"pos"`
	Msg string `json:"message"`
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

// ParseParams parses s. It never fails as a whole: text that cannot be read
// as a parameter is kept as Text and reported in the returned errors, so a
// caller can still translate the rest.
func ParseParams(s string) (*Template, []*SyntaxError) {
	p := &paramParser{s: s, line: 1, col: 1}
	nodes := p.parseSeq(len(s), false)
	return &Template{Nodes: nodes}, p.errs
}

type paramParser struct {
	s         string
	i         int
	line, col int
	errs      []*SyntaxError
}

func (p *paramParser) pos() Pos { return Pos{Offset: p.i, Line: p.line, Column: p.col} }

func (p *paramParser) advance(n int) {
	for k := 0; k < n && p.i < len(p.s); k++ {
		if p.s[p.i] == '\n' {
			p.line++
			p.col = 1
		} else {
			p.col++
		}
		p.i++
	}
}

func (p *paramParser) fail(at Pos, format string, args ...any) {
	p.errs = append(p.errs, &SyntaxError{Pos: at, Msg: fmt.Sprintf(format, args...)})
}

// parseSeq reads text, parameters and handlers up to end.
func (p *paramParser) parseSeq(end int, _ bool) []Node {
	var nodes []Node
	textStart := p.pos()
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			nodes = append(nodes, &Text{From: textStart, To: p.pos(), Value: text.String()})
			text.Reset()
		}
	}
	for p.i < end {
		rest := p.s[p.i:end]
		if strings.HasPrefix(rest, "[[") {
			flush()
			start := p.pos()
			if prm := p.parseParam(end); prm != nil {
				nodes = append(nodes, prm)
			} else {
				// Keep the unparseable text literally from where it began.
				nodes = append(nodes, &Text{From: start, To: p.pos(), Value: p.s[start.Offset:p.i]})
			}
			textStart = p.pos()
			continue
		}
		if name, ok := handlerAt(rest); ok {
			flush()
			start := p.pos()
			if h := p.parseHandler(name, end); h != nil {
				nodes = append(nodes, h)
			} else {
				nodes = append(nodes, &Text{From: start, To: p.pos(), Value: p.s[start.Offset:p.i]})
			}
			textStart = p.pos()
			continue
		}
		if text.Len() == 0 {
			textStart = p.pos()
		}
		text.WriteByte(p.s[p.i])
		p.advance(1)
	}
	flush()
	return nodes
}

func handlerAt(s string) (string, bool) {
	for _, h := range handlers {
		if strings.HasPrefix(s, "$"+h+"(") {
			return h, true
		}
	}
	return "", false
}

// parseParam reads [[key]mods] starting at "[[". On error it reports, moves
// past the opening brackets and returns nil.
func (p *paramParser) parseParam(end int) *Param {
	start := p.pos()
	p.advance(2)
	prm := &Param{From: start}
	var key strings.Builder
	for {
		if p.i >= end {
			p.fail(start, "unterminated replacement parameter %q: missing ]", clip(p.s[start.Offset:end]))
			return nil
		}
		c := p.s[p.i]
		if c == '[' && p.i+1 < end && p.s[p.i+1] == '[' {
			nested := p.parseParam(end)
			if nested == nil {
				return nil
			}
			prm.Nested = append(prm.Nested, nested)
			key.WriteString(nested.Raw)
			continue
		}
		if c == ']' {
			p.advance(1)
			break
		}
		if c == '\n' {
			p.fail(start, "replacement parameter %q breaks across lines", clip(p.s[start.Offset:p.i]))
			return nil
		}
		key.WriteByte(c)
		p.advance(1)
	}
	// Modifiers up to the closing bracket.
	modStart := p.pos()
	for p.i < end && p.s[p.i] != ']' {
		c := p.s[p.i]
		if !strings.ContainsRune(Modifiers, rune(c)) {
			p.fail(modStart, "unknown replacement key %q in %q (known: %s)", string(c), clip(p.s[start.Offset:min(end, p.i+1)]), Modifiers)
			// Skip to the closing bracket so the rest of the string parses.
			for p.i < end && p.s[p.i] != ']' && p.s[p.i] != '\n' {
				p.advance(1)
			}
			if p.i < end && p.s[p.i] == ']' {
				p.advance(1)
			}
			return nil
		}
		prm.Modifiers += string(c)
		p.advance(1)
	}
	if p.i >= end {
		p.fail(start, "unterminated replacement parameter %q: missing closing ]", clip(p.s[start.Offset:end]))
		return nil
	}
	p.advance(1)
	prm.To = p.pos()
	prm.Raw = p.s[start.Offset:p.i]
	k := strings.TrimSpace(key.String())
	if k == "" {
		p.fail(start, "empty replacement parameter %q", prm.Raw)
		return nil
	}
	prm.Source, prm.Key, _ = strings.Cut(k, ".")
	if prm.SystemGroup() && !knownGroup(prm.Source) {
		p.fail(start, "unknown system parameter group %s in %q", prm.Source, prm.Raw)
	}
	return prm
}

func knownGroup(g string) bool {
	for _, s := range SystemGroups {
		if strings.EqualFold(s, g) {
			return true
		}
	}
	return false
}

// parseHandler reads $Name( body ) with balanced parentheses; quotes in the
// body (JavaScript strings) may contain parentheses.
func (p *paramParser) parseHandler(name string, end int) *Handler {
	start := p.pos()
	p.advance(len(name) + 2)
	bodyStart := p.i
	bodyPos := p.pos()
	depth := 1
	var quote byte
	for p.i < end {
		c := p.s[p.i]
		switch {
		case quote != 0:
			if c == '\\' {
				p.advance(1)
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
		if depth == 0 {
			break
		}
		p.advance(1)
	}
	if depth != 0 {
		p.fail(start, "$%s( has no matching )", name)
		p.i, p.line, p.col = start.Offset, start.Line, start.Column
		p.advance(len(name) + 2)
		return nil
	}
	body := p.s[bodyStart:p.i]
	p.advance(1)
	h := &Handler{From: start, To: p.pos(), Name: name, Body: body}
	// Parse parameters inside the body with positions in the outer string.
	sub := &paramParser{s: p.s, i: bodyStart, line: bodyPos.Line, col: bodyPos.Column}
	for _, n := range sub.parseSeq(bodyStart+len(body), true) {
		if prm, ok := n.(*Param); ok {
			h.Params = append(h.Params, prm)
		}
	}
	p.errs = append(p.errs, sub.errs...)
	return h
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
