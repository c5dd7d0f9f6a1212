package refserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/batchwire"
)

// $batch (execute-batch-operations-using-web-api.md, OData 4.0 Part 1
// §11.7): up to 1,000 operations run in order; a change set runs in one
// transaction and any failing operation rolls all of it back; Content-ID
// references ($1) name records created earlier in the same change set.
//
// Without Prefer: odata.continue-on-error the batch stops at the first
// failure and the outer status becomes that failure's status ("the error for
// that request will be returned for the batch request and more requests
// won't be processed"). The documented example fails on its first
// operation, so it does not show whether responses of operations that ran
// before the failure are included; we include them, as OData §11.7.4
// requires, so a client can see what was applied.
//
// A failed change set answers with the failing operation's response alone,
// not wrapped in a changesetresponse (OData §11.7.4: "a single response for
// the failed change set").

// recorder captures a handler's response in memory. Inner $batch
// operations write into one; so does the middleware that delays, throttles
// and injects faults before anything reaches the client.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	report func(error) // receives unexpected errors (hardening.go)
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// copyTo sends the recorded response to w.
func (r *recorder) copyTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range r.header {
		h[k] = v
	}
	w.WriteHeader(r.code())
	w.Write(r.body.Bytes())
}

// Errors Dataverse's OData layer (Microsoft.OData.Core) gives for batch
// bodies it cannot accept. Wording: "too many parts" as Dataverse sent it in
// MicrosoftDocs/powerapps-docs#1890 (with its limit of 1000), change set
// size as reported in AleksandrRogov/DynamicsWebApi#71, the others are
// Microsoft.OData.Core's resource strings (ODataBatchReaderStream_*,
// ODataBatch_InvalidHttpMethodForChangeSetRequest).
func batchReadError(err error) *apiError {
	var we *batchwire.Error
	if !errors.As(err, &we) {
		return badRequest(codeBadProperty, "Encountered an unexpected end of input while reading the batch payload.")
	}
	switch we.Kind {
	case batchwire.KindTooManyRequests:
		return badRequest(codeBadProperty, "The current batch message contains too many parts. Only batch messages with a maximum number of '%d' query operations, including changeset operations, are allowed.", batchwire.MaxRequests)
	case batchwire.KindChangeSetTooLarge:
		return badRequest(codeBadProperty, "The current change set contains too many operations. A maximum number of '%d' operations are allowed in a change set.", batchwire.MaxRequests)
	case batchwire.KindNestedChangeSet:
		return badRequest(codeBadProperty, "Nested change sets in a batch payload are not supported.")
	case batchwire.KindMethodInChangeSet:
		return badRequest(codeBadProperty, "An invalid HTTP method '%s' was detected for a request in a change set. Requests in change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', and 'PATCH'.", we.Detail)
	case batchwire.KindBadRequestLine:
		return badRequest(codeBadProperty, "The request line '%s' is invalid. The request line at the start of each operation must be of the format 'HttpMethod RequestUrl HttpVersion'.", we.Detail)
	case batchwire.KindPartContentType:
		if we.Detail == "" {
			return badRequest(codeBadProperty, "The 'Content-Type' header is missing. The 'Content-Type' header must be specified for each MIME part of a batch message.")
		}
		return badRequest(codeBadProperty, "The 'Content-Type' header value '%s' is invalid. When this is the start of the change set, the value must be 'multipart/mixed'; otherwise it must be 'application/http'.", we.Detail)
	case batchwire.KindDuplicateContentID:
		return badRequest(codeBadProperty, "The content ID '%s' was found more than once in the same change set. Content IDs have to be unique across all operations of a change set.", we.Detail)
	case batchwire.KindBatchContentType:
		return badRequest(codeBadProperty, "The batch request must have a Content-Type of 'multipart/mixed' with a boundary; '%s' was sent.", we.Detail)
	}
	return badRequest(codeBadProperty, "Encountered an unexpected end of input while reading the batch payload.")
}

func contentIDNotFound(ref string) *apiError {
	return badRequest(codeBadProperty, "Content-ID Reference: '%s' does not exist in the batch context.", ref)
}

func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, methodNotAllowed(r.Method, "$batch"))
		return
	}
	parts, err := batchwire.ReadRequest(io.LimitReader(r.Body, maxBodyBytes), r.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, batchReadError(err))
		return
	}
	pref := parsePrefer(r)
	ctx := r.Context()
	status := http.StatusOK
	var out []batchwire.ResponsePart
	for _, p := range parts {
		if ctx.Err() != nil {
			return // the client is gone; nothing more will be read
		}
		if p.Request != nil {
			resp := s.runOperation(ctx, r, *p.Request, nil)
			out = append(out, batchwire.ResponsePart{Response: &resp})
			if resp.StatusCode >= 400 && !pref.continueOnError {
				status = resp.StatusCode
				break
			}
			continue
		}
		resps, failed := s.runChangeSet(ctx, r, p.ChangeSet)
		if failed != nil {
			out = append(out, batchwire.ResponsePart{Response: failed})
			if !pref.continueOnError {
				status = failed.StatusCode
				break
			}
			continue
		}
		out = append(out, batchwire.ResponsePart{ChangeSet: resps})
	}
	boundary := batchwire.NewBoundary("batchresponse")
	var buf bytes.Buffer
	if err := batchwire.WriteResponse(&buf, boundary, out); err != nil {
		writeError(w, err)
		return
	}
	h := w.Header()
	if pref.continueOnError {
		h.Set("Preference-Applied", "odata.continue-on-error")
	}
	h.Set("Content-Type", batchwire.ResponseContentType(boundary))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errChangeSetFailed aborts a change set's transaction after an operation
// answered with an error status.
var errChangeSetFailed = errors.New("change set operation failed")

// runChangeSet runs every operation of a change set in one transaction.
// It returns the responses, or the failing operation's response alone.
func (s *Server) runChangeSet(ctx context.Context, outer *http.Request, reqs []batchwire.Request) ([]batchwire.Response, *batchwire.Response) {
	var resps []batchwire.Response
	var failed *batchwire.Response
	err := s.store.writeNew(ctx, func(tx *writeTx) error {
		refs := map[string]string{}
		txCtx := withTx(ctx, tx)
		for _, req := range reqs {
			resp := s.runOperation(txCtx, outer, req, refs)
			if resp.StatusCode >= 400 {
				failed = &resp
				return errChangeSetFailed
			}
			if req.ContentID != "" {
				if loc := s.createdEntityURL(outer, resp); loc != "" {
					refs[req.ContentID] = loc
				}
			}
			resps = append(resps, resp)
		}
		return nil
	})
	if failed != nil {
		return nil, failed
	}
	if err != nil {
		ae := asAPIError(err)
		resp := errorResponse("", ae)
		return nil, &resp
	}
	return resps, nil
}

// createdEntityURL is the URL a Content-ID stands for: the OData-EntityId
// of the operation's response or, with Prefer: return=representation
// (which sends the record instead of that header), the record's own URL.
func (s *Server) createdEntityURL(outer *http.Request, resp batchwire.Response) string {
	if loc := resp.Header.Get("OData-EntityId"); loc != "" {
		return loc
	}
	if len(resp.Body) == 0 {
		return ""
	}
	var rec map[string]any
	if json.Unmarshal(resp.Body, &rec) != nil {
		return ""
	}
	ctxURL, _ := rec["@odata.context"].(string)
	_, frag, ok := strings.Cut(ctxURL, "$metadata#")
	if !ok {
		return ""
	}
	set := frag
	if i := strings.IndexAny(set, "(/"); i >= 0 {
		set = set[:i]
	}
	t, ok := s.reg.TableBySet(set)
	if !ok {
		return ""
	}
	id, _ := rec[t.PrimaryID].(string)
	if id == "" {
		return ""
	}
	return entityID(baseURL(outer), t, id)
}

// runOperation executes one operation of a batch through the normal
// routing and captures its response. refs maps the Content-IDs of the
// enclosing change set to the URLs of the records they created.
func (s *Server) runOperation(ctx context.Context, outer *http.Request, op batchwire.Request, refs map[string]string) batchwire.Response {
	target, err := resolveOperationURL(op.URL, refs)
	if err != nil {
		return errorResponse(op.ContentID, asAPIError(err))
	}
	if p, _, _ := strings.Cut(target, "?"); strings.TrimSuffix(p, "/") == APIPath+"$batch" {
		// "Batch requests ... can't contain other batch requests." Running
		// one inside a change set would also wait forever for the store's
		// writer lock that the change set holds.
		return errorResponse(op.ContentID, badRequest(codeBadProperty, "A batch request cannot contain another batch request."))
	}
	body := op.Body
	if refs != nil && len(bytes.TrimSpace(body)) > 0 {
		if body, err = substituteReferences(body, refs); err != nil {
			return errorResponse(op.ContentID, asAPIError(err))
		}
	}
	req, err := http.NewRequestWithContext(ctx, op.Method, "http://"+outer.Host+target, bytes.NewReader(body))
	if err != nil {
		return errorResponse(op.ContentID, badRequest(codeBadProperty, "The request line '%s %s HTTP/1.1' is invalid. The request line at the start of each operation must be of the format 'HttpMethod RequestUrl HttpVersion'.", op.Method, op.URL))
	}
	req.Host = outer.Host
	req.TLS = outer.TLS
	req.RemoteAddr = outer.RemoteAddr
	for _, f := range op.Header {
		req.Header.Add(f.Name, f.Value)
	}
	return s.dispatchRecorded(op.ContentID, req)
}

// dispatchRecorded runs one operation; a panicking handler becomes a 500 for
// that operation, so that an enclosing change set is rolled back rather
// than left holding its transaction.
func (s *Server) dispatchRecorded(contentID string, req *http.Request) (resp batchwire.Response) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("batch operation panicked", "method", req.Method, "path", req.URL.Path, "panic", v)
			resp = errorResponse(contentID, newError(http.StatusInternalServerError, "0x80040216", "An unexpected error occurred."))
		}
	}()
	if ae := checkOperationURL(req); ae != nil {
		return errorResponse(contentID, ae)
	}
	rec := newRecorder()
	rec.report = reporterFrom(req.Context())
	s.dispatch(rec, req)
	return recordedResponse(contentID, rec)
}

// resolveOperationURL turns an operation's URL — absolute, absolute path,
// relative to the service root, or a Content-ID reference — into a path
// with query under APIPath.
func resolveOperationURL(raw string, refs map[string]string) (string, error) {
	if strings.HasPrefix(raw, "$") {
		// "$1", "$1/lastname", "$1?$select=name": the reference ends at the
		// first '/' or '?'.
		end := len(raw)
		if i := strings.IndexAny(raw, "/?"); i > 0 {
			end = i
		}
		if id := raw[1:end]; !isSystemResource(id) {
			loc, ok := refs[id]
			if !ok {
				return "", contentIDNotFound("$" + id)
			}
			raw = loc + raw[end:]
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", badRequest(codeQueryNotSupported, "The request URI '%s' is not valid.", raw)
	}
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		p = APIPath + p
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, nil
}

// isSystemResource tells "$batch" and "$metadata" (relative to the service
// root) from Content-ID references such as "$1".
func isSystemResource(name string) bool { return name == "batch" || name == "metadata" }

// substituteReferences replaces "$n" in @odata.bind values and in
// @odata.id (the body of PUT .../$ref) by the URL of the record created by
// the operation with Content-ID n.
func substituteReferences(body []byte, refs map[string]string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return body, nil // let the operation report the malformed body
	}
	changed := false
	resolve := func(v string) (string, error) {
		if !strings.HasPrefix(v, "$") || len(v) < 2 {
			return v, nil
		}
		loc, ok := refs[v[1:]]
		if !ok {
			return "", contentIDNotFound(v)
		}
		changed = true
		return loc, nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasSuffix(k, "@odata.bind") && k != "@odata.id" {
			continue
		}
		switch v := obj[k].(type) {
		case string:
			nv, err := resolve(v)
			if err != nil {
				return nil, err
			}
			obj[k] = nv
		case []any:
			for i, e := range v {
				if str, ok := e.(string); ok {
					nv, err := resolve(str)
					if err != nil {
						return nil, err
					}
					v[i] = nv
				}
			}
		}
	}
	if !changed {
		return body, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// recordedResponse converts a captured response into a batch part, with
// the headers Dataverse puts on inner responses (Location beside
// OData-EntityId on writes, as the documented responses show).
func recordedResponse(contentID string, rec *recorder) batchwire.Response {
	status := rec.code()
	var h batchwire.Header
	if status >= 400 {
		h.Add("REQ_ID", uuid.NewString())
	}
	if ct := rec.header.Get("Content-Type"); ct != "" && rec.body.Len() > 0 {
		h.Add("Content-Type", ct)
	}
	h.Add("OData-Version", "4.0")
	if loc := rec.header.Get("OData-EntityId"); loc != "" {
		h.Add("Location", loc)
		h.Add("OData-EntityId", loc)
	}
	for _, name := range []string{"ETag", "Preference-Applied", "Retry-After"} {
		if v := rec.header.Get(name); v != "" {
			h.Add(name, v)
		}
	}
	return batchwire.Response{ContentID: contentID, StatusCode: status, Header: h, Body: bytes.Clone(rec.body.Bytes())}
}

func errorResponse(contentID string, ae *apiError) batchwire.Response {
	rec := newRecorder()
	writeError(rec, ae)
	return recordedResponse(contentID, rec)
}
