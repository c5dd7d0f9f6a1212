package odata

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind int

const (
	tokEnd tokenKind = iota
	tokIdent
	tokString
	tokInt
	tokDecimal
	tokGUID
	tokDate
	tokDateTimeOffset
	tokEnum // qualified.Type'member'
	tokAlias
	tokBracket // '[' … ']' kept raw; items are parsed by the parser
	tokOpenParen
	tokCloseParen
	tokComma
	tokColon
	tokSlash
	tokEqual
	tokMinus
	tokStar
)

// token is one lexeme. pos and end are byte offsets into the text; text is
// the lexeme as written.
type token struct {
	kind tokenKind
	pos  int
	end  int
	text string
}

// lexer produces tokens one at a time, as ODL's ExpressionLexer does, so that
// an invalid character is reported only when the parser reaches it.
type lexer struct {
	src string
	off int
	tok token
	err *Error
}

func isHexDigit(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// guidLen is the length of a GUID (8-4-4-4-12 hex digits) at the start of s,
// or 0.
func guidLen(s string) int {
	if len(s) < 36 {
		return 0
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return 0
			}
		default:
			if !isHexDigit(s[i]) {
				return 0
			}
		}
	}
	return 36
}

// digits is the number of ASCII digits at the start of s.
func digits(s string) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

// dateLen is the length of YYYY-MM-DD at the start of s, or 0.
func dateLen(s string) int {
	if len(s) >= 10 && digits(s) == 4 && s[4] == '-' && digits(s[5:]) == 2 && s[7] == '-' && digits(s[8:]) >= 2 {
		return 10
	}
	return 0
}

// timeLen is the length of the time part of a DateTimeOffset at the start of
// s: T hh:mm[:ss[.fff]] followed by Z or ±hh:mm; 0 when absent or malformed.
func timeLen(s string) int {
	twoDigits := func(i int) bool { return i+2 <= len(s) && isDigit(s[i]) && isDigit(s[i+1]) }
	if len(s) == 0 || s[0] != 'T' || !twoDigits(1) || len(s) < 6 || s[3] != ':' || !twoDigits(4) {
		return 0
	}
	i := 6
	if i < len(s) && s[i] == ':' {
		if !twoDigits(i + 1) {
			return 0
		}
		i += 3
		if i < len(s) && s[i] == '.' {
			n := digits(s[i+1:])
			if n == 0 {
				return 0
			}
			i += 1 + n
		}
	}
	switch {
	case i < len(s) && s[i] == 'Z':
		return i + 1
	case i < len(s) && (s[i] == '+' || s[i] == '-') && twoDigits(i+1) && i+3 < len(s) && s[i+3] == ':' && twoDigits(i+4):
		return i + 6
	}
	return 0
}

// identLen is the length of a possibly dotted identifier at the start of s.
func identLen(s string) int {
	i := 0
	for {
		if i >= len(s) || !isIdentStart(s[i]) {
			return max(i-1, 0) // drop a trailing dot
		}
		i++
		for i < len(s) && isIdentChar(s[i]) {
			i++
		}
		if i+1 < len(s) && s[i] == '.' && isIdentStart(s[i+1]) {
			i++
			continue
		}
		return i
	}
}

func newLexer(src string) *lexer {
	lx := &lexer{src: src}
	lx.next()
	return lx
}

// errorf records an error positioned at byte offset off.
func (lx *lexer) errorAt(off int, format string, args ...any) {
	if lx.err == nil {
		lx.err = newError(utf16Pos(lx.src, off), format, args...)
	}
}

func (lx *lexer) pos16(off int) int { return utf16Pos(lx.src, off) }

func isIdentStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || ('0' <= c && c <= '9') }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// next advances to the next token. After an error the current token is tokEnd.
func (lx *lexer) next() {
	if lx.err != nil {
		lx.tok = token{kind: tokEnd, pos: len(lx.src), end: len(lx.src)}
		return
	}
	s := lx.src
	for lx.off < len(s) {
		r, size := utf8.DecodeRuneInString(s[lx.off:])
		if !unicode.IsSpace(r) {
			break
		}
		lx.off += size
	}
	start := lx.off
	emit := func(k tokenKind, end int) {
		lx.tok = token{kind: k, pos: start, end: end, text: s[start:end]}
		lx.off = end
	}
	if start >= len(s) {
		emit(tokEnd, start)
		return
	}
	rest := s[start:]
	c := rest[0]
	// A GUID may start with a letter, so it is tried before identifiers.
	if n := guidLen(rest); n > 0 && (len(rest) == n || !isIdentChar(rest[n])) {
		emit(tokGUID, start+n)
		return
	}
	switch {
	case c == '\'':
		lx.lexString(start)
		return
	case isDigit(c) || (c == '-' && len(rest) > 1 && isDigit(rest[1])):
		lx.lexNumberOrDate(start)
		return
	case isIdentStart(c):
		m := rest[:identLen(rest)]
		end := start + len(m)
		// A name directly followed by a quote is a typed literal to ODL
		// (Namespace.EnumType'Member', duration'…', binary'…'). Dataverse's
		// docs show the consequence for an unescaped quote: filter
		// lastname eq 'O'Bryan' fails with "There is an unterminated
		// literal at position 21 in 'lastname eq 'O'Bryan''."
		// (filter-rows.md, "Manage single quotes").
		if end < len(s) && s[end] == '\'' {
			_, n, ok := scanQuoted(s[end:])
			if !ok {
				lx.errorAt(len(s), msgUnterminatedLiteral, lx.pos16(len(s)), s)
				lx.next()
				return
			}
			if !strings.Contains(m, ".") {
				// duration, binary, geography…: not something Dataverse
				// columns hold.
				lx.errorAt(start, msgUnrecognizedLiteral, m, s[start:end+n], lx.pos16(start), s)
				lx.next()
				return
			}
			emit(tokEnum, end+n)
			return
		}
		emit(tokIdent, end)
		return
	case c == '@':
		m := rest[1 : 1+identLen(rest[1:])]
		if m == "" || strings.Contains(m, ".") {
			lx.errorAt(start, msgInvalidCharacter, "@", lx.pos16(start), s)
			lx.next()
			return
		}
		emit(tokAlias, start+1+len(m))
		return
	case c == '[':
		lx.lexBracket(start)
		return
	}
	switch c {
	case '(':
		emit(tokOpenParen, start+1)
	case ')':
		emit(tokCloseParen, start+1)
	case ',':
		emit(tokComma, start+1)
	case ':':
		emit(tokColon, start+1)
	case '/':
		emit(tokSlash, start+1)
	case '=':
		emit(tokEqual, start+1)
	case '-':
		emit(tokMinus, start+1)
	case '*':
		emit(tokStar, start+1)
	default:
		r, _ := utf8.DecodeRuneInString(rest)
		lx.errorAt(start, msgInvalidCharacter, string(r), lx.pos16(start), s)
		lx.next()
	}
}

// scanQuoted reads a single-quoted OData string at the start of s, where a
// quote inside is doubled. It returns the unescaped value and the length.
func scanQuoted(s string) (string, int, bool) {
	var b strings.Builder
	i := 1
	for i < len(s) {
		j := strings.IndexByte(s[i:], '\'')
		if j < 0 {
			return "", 0, false
		}
		b.WriteString(s[i : i+j])
		i += j + 1
		if i < len(s) && s[i] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), i, true
	}
	return "", 0, false
}

func (lx *lexer) lexString(start int) {
	_, n, ok := scanQuoted(lx.src[start:])
	if !ok {
		// ODL reports the position where it ran out of text.
		lx.errorAt(len(lx.src), msgUnterminatedString, lx.pos16(len(lx.src)), lx.src)
		lx.next()
		return
	}
	lx.tok = token{kind: tokString, pos: start, end: start + n, text: lx.src[start : start+n]}
	lx.off = start + n
}

func (lx *lexer) lexNumberOrDate(start int) {
	s := lx.src
	rest := s[start:]
	if rest[0] != '-' {
		if n := dateLen(rest); n > 0 {
			end := start + n
			if t := timeLen(s[end:]); t > 0 {
				end += t
				if end == len(s) || !isIdentChar(s[end]) {
					lx.tok = token{kind: tokDateTimeOffset, pos: start, end: end, text: s[start:end]}
					lx.off = end
					return
				}
			} else if end == len(s) || !isIdentChar(s[end]) && s[end] != '-' && s[end] != '.' {
				lx.tok = token{kind: tokDate, pos: start, end: end, text: s[start:end]}
				lx.off = end
				return
			}
			// A date followed by something that is not a valid time.
			lx.errorAt(start, msgUnrecognizedLiteral, "Edm.DateTimeOffset", literalTail(s, start), lx.pos16(start), s)
			lx.next()
			return
		}
	}
	i := start
	if s[i] == '-' {
		i++
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	kind := tokInt
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			lx.errorAt(i, msgDigitExpected, lx.pos16(i), s)
			lx.next()
			return
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		kind = tokDecimal
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j >= len(s) || !isDigit(s[j]) {
			lx.errorAt(j, msgDigitExpected, lx.pos16(j), s)
			lx.next()
			return
		}
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		i = j
		kind = tokDecimal
	}
	lx.tok = token{kind: kind, pos: start, end: i, text: s[start:i]}
	lx.off = i
}

// literalTail is the run of literal-looking characters from start, used to
// quote a bad literal in an error message.
func literalTail(s string, start int) string {
	i := start
	for i < len(s) && (isIdentChar(s[i]) || strings.IndexByte("-:.+", s[i]) >= 0) {
		i++
	}
	return s[start:i]
}

// lexBracket takes a balanced [ … ] run. Quoted strings inside are JSON
// strings (either quote character, backslash escapes), as ODL's JSON reader
// reads them.
func (lx *lexer) lexBracket(start int) {
	s := lx.src
	depth := 0
	for i := start; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				lx.tok = token{kind: tokBracket, pos: start, end: i + 1, text: s[start : i+1]}
				lx.off = i + 1
				return
			}
		case '\'', '"':
			n, ok := scanJSONString(s[i:])
			if !ok {
				i = len(s)
				break
			}
			i += n - 1
		}
	}
	lx.errorAt(start, msgUnbalancedBracket)
	lx.next()
}

// scanJSONString returns the length of the JSON string at the start of s,
// quoted with s[0] (' or ").
func scanJSONString(s string) (int, bool) {
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i + 1, true
		}
	}
	return 0, false
}
