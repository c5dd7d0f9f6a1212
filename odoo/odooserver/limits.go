package odooserver

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// Limits on what one request may cost, taken from Odoo where Odoo has one.
const (
	// maxBodyBytes is werkzeug's max_content_length as Odoo sets it for
	// every request: odoo/http.py DEFAULT_MAX_CONTENT_LENGTH = 128 MiB
	// (HTTPRequest.__init__: httprequest.max_content_length). Reading a
	// larger body raises werkzeug.exceptions.RequestEntityTooLarge.
	maxBodyBytes = 128 << 20

	// maxNesting bounds how deeply arrays/structs (XML-RPC) and arrays/
	// objects (JSON) may nest. Odoo has no explicit depth check: CPython's
	// json decoder recurses per level and raises RecursionError past
	// sys.getrecursionlimit() (1000 by default, which Odoo does not change),
	// and every recursive walk of an XML-RPC value (xmlrpc.client's
	// Marshaller when anything is echoed back, domain normalisation in the
	// ORM) stops at the same limit. The reference server refuses at parse
	// time with the same exception, so a 1,100,000-deep request costs a few
	// kilobytes of stack instead of the process.
	maxNesting = 1000

	// defaultMaxInFlightBytes bounds the request bodies held at once across
	// all callers. Odoo bounds this with its worker count (each worker takes
	// one request); the reference server is one process, so it counts bytes
	// instead and answers 429 beyond the budget.
	defaultMaxInFlightBytes = 2 * maxBodyBytes

	// maxValuesPerRequest bounds the values (array elements, struct or
	// object members, scalars) one request body may decode to. A decoded
	// value costs 20 to 40 times its wire size, so 128 MiB of tiny values
	// would take gigabytes; Odoo's worker would be killed by
	// --limit-memory-hard (2560 MiB by default, odoo/documentation
	// reference/cli.rst) and its proxy answer 502, which is what the
	// reference server answers too. Four million values is far beyond any
	// page, create batch or id list a client sends.
	maxValuesPerRequest = 4_000_000
)

// errMemoryLimit stands for a worker killed by --limit-memory-hard.
type errMemoryLimit struct{ values int }

func (e *errMemoryLimit) Error() string {
	return "request body decodes to more than " + strconv.Itoa(e.values) + " values; Odoo's worker would exceed --limit-memory-hard"
}

// errTooDeep is CPython's RecursionError, as Odoo reports it.
var errTooDeep = &rpcError{name: "builtins.RecursionError", message: "maximum recursion depth exceeded while decoding a JSON array from a unicode string",
	httpStatus: http.StatusInternalServerError, fault: faultApplication}

// errXMLTooDeep is the RecursionError xmlrpc.client's recursive marshaller
// (and the ORM) raise on an XML-RPC value nested past the recursion limit.
var errXMLTooDeep = &rpcError{name: "builtins.RecursionError", message: "maximum recursion depth exceeded while calling a Python object",
	httpStatus: http.StatusInternalServerError, fault: faultApplication}

// errEntityTooLarge is werkzeug's RequestEntityTooLarge as Odoo renders it:
// str(e) in XML-RPC faults and JSON-RPC envelopes, status 413 on JSON-2.
func errEntityTooLarge() *rpcError {
	e := errHTTP("RequestEntityTooLarge", http.StatusRequestEntityTooLarge, "The data value transmitted exceeds the capacity limit.")
	e.message = "413 Request Entity Too Large: The data value transmitted exceeds the capacity limit."
	return e
}

// errBusy means the in-flight body budget is spent; it is answered with a
// bare 429 before any protocol envelope, as a front proxy would.
var errBusy = errors.New("odooserver: too many request bytes in flight")

// budget counts request body bytes held by requests in progress.
type budget struct {
	mu   sync.Mutex
	used int64
	max  int64
}

func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// body is a request body read under Odoo's size limit and the server's
// in-flight budget. It reserves bytes as they arrive (a declared
// Content-Length is reserved up front, so an oversized or unaffordable
// request is refused before anything is read) and gives them back on
// release, once the response is written.
type body struct {
	r        io.Reader
	b        *budget
	max      int64
	read     int64
	reserved int64
}

// openBody returns the request body to decode, or errEntityTooLarge /
// errBusy before reading anything when the declared length says so.
func (srv *Server) openBody(r *http.Request) (*body, error) {
	if r.ContentLength > srv.maxBody {
		return nil, errEntityTooLarge()
	}
	bd := &body{r: r.Body, b: srv.inflight, max: srv.maxBody}
	if r.ContentLength > 0 {
		if !bd.b.take(r.ContentLength) {
			return nil, errBusy
		}
		bd.reserved = r.ContentLength
	}
	return bd, nil
}

func (bd *body) Read(p []byte) (int, error) {
	if bd.read >= bd.max {
		// One byte past the limit proves the body is too large.
		var one [1]byte
		if n, _ := bd.r.Read(one[:]); n > 0 {
			return 0, errEntityTooLarge()
		}
		return 0, io.EOF
	}
	if rest := bd.max - bd.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := bd.r.Read(p)
	bd.read += int64(n)
	if over := bd.read - bd.reserved; over > 0 {
		if !bd.b.take(over) {
			return n, errBusy
		}
		bd.reserved += over
	}
	return n, err
}

func (bd *body) release() {
	if bd != nil && bd.reserved > 0 {
		bd.b.give(bd.reserved)
		bd.reserved = 0
	}
}

// writeBusy answers a request refused for the in-flight budget.
func writeBusy(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	io.WriteString(w, "429 Too Many Requests: the reference Odoo holds as many request bytes as it allows at once; retry shortly\n")
}

// depthReader passes JSON through while counting how deeply arrays and
// objects nest, failing with errTooDeep past maxNesting. It keeps three
// ints of state, so depth is checked without building anything.
type depthReader struct {
	r        io.Reader
	depth    int
	inString bool
	escaped  bool
	values   int // '[' '{' ',' ':' seen: an upper bound of values started
	limit    int // maxValuesPerRequest; tests lower it
}

func (d *depthReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	for _, c := range p[:n] {
		switch {
		case d.inString:
			switch {
			case d.escaped:
				d.escaped = false
			case c == '\\':
				d.escaped = true
			case c == '"':
				d.inString = false
			}
		case c == '"':
			d.inString = true
		case c == '[' || c == '{':
			d.depth++
			if d.depth > maxNesting {
				return 0, errTooDeep
			}
			d.values++
		case c == ']' || c == '}':
			d.depth--
		case c == ',' || c == ':':
			d.values++
		}
		if d.values > d.limit {
			return 0, &errMemoryLimit{d.limit}
		}
	}
	return n, err
}
