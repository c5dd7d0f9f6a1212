package dataverse_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/batchwire"
	"github.com/dvsync/dvsync/dataverse/schema"
)

const fakeToken = "test-token-SECRET"

// fakeDV is a small in-memory Dataverse for client unit tests: one table
// (incident, key ticketnumber), keyset paging, change tracking, bulk
// messages and $batch. It follows the documented wire shapes only as far as
// the client needs; the full reference server lives in dataverse/refserver.
type fakeDV struct {
	t   *testing.T
	srv *httptest.Server

	// txMu makes change sets atomic: a change set holds it exclusively so
	// that its rollback cannot undo concurrent requests' writes.
	txMu    sync.RWMutex
	mu      sync.Mutex
	recs    map[string]map[string]any // by incidentid
	version int64
	changes []fakeChange
	// sqlOrder compares GUIDs the SQL Server way instead of as text.
	sqlOrder bool
	// expiredBefore: delta tokens below this version are expired.
	expiredBefore int64
	bulk          bool

	// fault, when set, may answer a request instead of the fake.
	fault func(w http.ResponseWriter, r *http.Request) bool

	requests    atomic.Int64
	inflight    atomic.Int64
	maxInflight atomic.Int64
	sawCookie   atomic.Bool
	headersMu   sync.Mutex
	lastHeaders http.Header
	prefers     []string
}

type fakeChange struct {
	version int64
	id      string
	deleted bool
}

func newFake(t *testing.T) *fakeDV {
	f := &fakeDV{t: t, recs: map[string]map[string]any{}, bulk: true}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// registry returns a schema registry with the fake's table.
func (f *fakeDV) registry(bulk bool) *schema.Registry {
	r := schema.NewRegistry()
	err := r.Register(&schema.Table{
		LogicalName: "incident", EntitySetName: "incidents", PrimaryID: "incidentid", PrimaryName: "title",
		Columns: []schema.Column{
			{LogicalName: "incidentid", Type: schema.TypeUniqueidentifier},
			{LogicalName: "title", Type: schema.TypeString, MaxLength: 200},
			{LogicalName: "ticketnumber", Type: schema.TypeString, MaxLength: 100},
			{LogicalName: "prioritycode", Type: schema.TypePicklist},
		},
		AlternateKeys:  []schema.AlternateKey{{Name: "ticketnumber", Columns: []string{"ticketnumber"}}},
		ChangeTracking: true,
		BulkMessages:   bulk,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fakeDV) client(t *testing.T, o *dataverse.ClientOptions) *dataverse.Client {
	var opts dataverse.ClientOptions
	if o != nil {
		opts = *o
	}
	if opts.Schema == nil {
		opts.Schema = f.registry(f.bulk)
	}
	if opts.Limiter == nil && opts.Concurrency == 0 {
		// Tests must not share the process-wide limiter.
		opts.Limiter = dataverse.NewLimiter(dataverse.LimiterOptions{Initial: 4})
	}
	if opts.RetryWaitMin == 0 {
		opts.RetryWaitMin, opts.RetryWaitMax = time.Millisecond, 5*time.Millisecond
	}
	c, err := dataverse.NewClient(f.srv.URL, dataverse.StaticToken(fakeToken), &opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fakeDV) put(rec map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putLocked(rec)
}

func (f *fakeDV) putLocked(rec map[string]any) {
	id := rec["incidentid"].(string)
	f.version++
	rec["versionnumber"] = f.version
	f.recs[id] = rec
	f.changes = append(f.changes, fakeChange{version: f.version, id: id})
}

func (f *fakeDV) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.recs)
}

func (f *fakeDV) get(id string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recs[id]
}

// sqlKey orders GUIDs like SQL Server's uniqueidentifier: bytes 10-15,
// then 8-9, 6-7, 4-5, 0-3.
func sqlKey(s string) string {
	u := uuid.MustParse(s)
	order := []int{10, 11, 12, 13, 14, 15, 8, 9, 6, 7, 4, 5, 0, 1, 2, 3}
	var b []byte
	for _, i := range order {
		b = append(b, u[i])
	}
	return string(b)
}

func (f *fakeDV) less(a, b string) bool {
	if f.sqlOrder {
		return sqlKey(a) < sqlKey(b)
	}
	return a < b
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.Header().Set("REQ_ID", "req-"+strconv.Itoa(status))
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func (f *fakeDV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxInflight.Load()
		if n <= m || f.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	f.requests.Add(1)
	if r.Header.Get("Cookie") != "" {
		f.sawCookie.Store(true)
	}
	f.headersMu.Lock()
	f.lastHeaders = r.Header.Clone()
	f.prefers = append(f.prefers, r.Header.Get("Prefer"))
	f.headersMu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+fakeToken {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeErr(w, 401, "", "unauthorized")
		return
	}
	// Dataverse sets an affinity cookie; the client must not send it back.
	http.SetCookie(w, &http.Cookie{Name: "ARRAffinity", Value: "server1"})
	w.Header().Set("x-ms-dop-hint", "8")
	if f.fault != nil && f.fault(w, r) {
		return
	}
	if !strings.HasSuffix(r.URL.Path, "/$batch") {
		f.txMu.RLock()
		defer f.txMu.RUnlock()
	}
	f.serve(w, r)
}

var keyRe = regexp.MustCompile(`^incidents\((.*)\)$`)

func (f *fakeDV) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/data/v9.2/")
	path, _ = url.PathUnescape(path)
	switch {
	case path == "$batch" && r.Method == "POST":
		f.batch(w, r)
	case path == "WhoAmI":
		json.NewEncoder(w).Encode(map[string]string{"UserId": "u", "OrganizationId": "o"})
	case strings.HasPrefix(path, "EntityDefinitions(LogicalName='incident')"):
		f.entityDefinitions(w, path)
	case path == "incidents" && r.Method == "GET":
		f.list(w, r)
	case path == "incidents" && r.Method == "POST":
		f.create(w, r)
	case strings.HasPrefix(path, "incidents/Microsoft.Dynamics.CRM.") && r.Method == "POST":
		f.bulkMessage(w, r, strings.TrimPrefix(path, "incidents/Microsoft.Dynamics.CRM."))
	case keyRe.MatchString(path):
		f.record(w, r, keyRe.FindStringSubmatch(path)[1])
	default:
		writeErr(w, 404, "0x8006088a", "Resource not found for the segment '"+path+"'.")
	}
}

func (f *fakeDV) entityDefinitions(w http.ResponseWriter, path string) {
	if strings.Contains(path, "/Attributes/") {
		json.NewEncoder(w).Encode(map[string]any{"value": []any{}})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"LogicalName": "incident", "EntitySetName": "incidents", "PrimaryIdAttribute": "incidentid",
		"PrimaryNameAttribute": "title", "ChangeTrackingEnabled": true, "ObjectTypeCode": 112,
		"Attributes": []map[string]any{
			{"LogicalName": "incidentid", "AttributeType": "Uniqueidentifier"},
			{"LogicalName": "title", "AttributeType": "String"},
			{"LogicalName": "ticketnumber", "AttributeType": "String"},
		},
		"Keys": []map[string]any{{"LogicalName": "ticketnumber", "KeyAttributes": []string{"ticketnumber"}}},
	})
}

// resolveKey maps "guid" or "ticketnumber='x'" to an incidentid ("" when
// absent) and the alternate key value.
func (f *fakeDV) resolveKeyLocked(seg string) (id string, alt string, err error) {
	if u, perr := uuid.Parse(seg); perr == nil {
		id = u.String()
		if _, ok := f.recs[id]; !ok {
			return "", "", nil
		}
		return id, "", nil
	}
	v, ok := strings.CutPrefix(seg, "ticketnumber=")
	if !ok || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return "", "", fmt.Errorf("bad key %q", seg)
	}
	alt = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	for rid, rec := range f.recs {
		if rec["ticketnumber"] == alt {
			return rid, alt, nil
		}
	}
	return "", alt, nil
}

func decodeBody(r *http.Request) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	err := dec.Decode(&m)
	return m, err
}

func validate(rec map[string]any) (int, string, string) {
	if t, ok := rec["title"].(string); ok && len(t) > 200 {
		return 400, "0x80044331", "A validation error occurred. The length of the 'title' attribute of the 'incident' entity exceeded the maximum allowed length of '200'."
	}
	for k := range rec {
		if strings.HasPrefix(k, "@") || strings.Contains(k, "@odata.bind") {
			continue
		}
		switch k {
		case "incidentid", "title", "ticketnumber", "prioritycode", "versionnumber":
		default:
			return 400, "0x0", "Could not find a property named '" + k + "' on type 'Microsoft.Dynamics.CRM.incident'."
		}
	}
	return 0, "", ""
}

func (f *fakeDV) entityURL(r *http.Request, id string) string {
	return "http://" + r.Host + "/api/data/v9.2/incidents(" + id + ")"
}

func (f *fakeDV) create(w http.ResponseWriter, r *http.Request) {
	rec, err := decodeBody(r)
	if err != nil {
		writeErr(w, 400, "0x0", "bad json")
		return
	}
	if st, code, msg := validate(rec); st != 0 {
		writeErr(w, st, code, msg)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, _ := rec["incidentid"].(string)
	if id == "" {
		id = uuid.NewString()
		rec["incidentid"] = id
	}
	if _, ok := f.recs[id]; ok {
		writeErr(w, 412, "0x80040237", "Cannot insert duplicate key.")
		return
	}
	f.putLocked(rec)
	w.Header().Set("OData-EntityId", f.entityURL(r, id))
	w.WriteHeader(204)
}

func etagOf(rec map[string]any) string { return fmt.Sprintf(`W/"%v"`, rec["versionnumber"]) }

func (f *fakeDV) record(w http.ResponseWriter, r *http.Request, seg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, alt, err := f.resolveKeyLocked(seg)
	if err != nil {
		writeErr(w, 400, "0x0", err.Error())
		return
	}
	ifMatch := r.Header.Get("If-Match")
	if id != "" && ifMatch != "" && ifMatch != "*" && ifMatch != etagOf(f.recs[id]) {
		writeErr(w, 412, "", "The version of the existing record doesn't match the RowVersion property provided.")
		return
	}
	switch r.Method {
	case "GET":
		if id == "" {
			writeErr(w, 404, "", "incident With Id = "+seg+" Does Not Exist")
			return
		}
		rec := maps(f.recs[id])
		rec["@odata.etag"] = etagOf(rec)
		json.NewEncoder(w).Encode(rec)
	case "DELETE":
		if id == "" {
			writeErr(w, 404, "", "incident With Id = "+seg+" Does Not Exist")
			return
		}
		delete(f.recs, id)
		f.version++
		f.changes = append(f.changes, fakeChange{version: f.version, id: id, deleted: true})
		w.WriteHeader(204)
	case "PATCH":
		body, err := decodeBody(r)
		if err != nil {
			writeErr(w, 400, "0x0", "bad json")
			return
		}
		if st, code, msg := validate(body); st != 0 {
			writeErr(w, st, code, msg)
			return
		}
		if id == "" && ifMatch != "" {
			writeErr(w, 404, "", "incident With Id = "+seg+" Does Not Exist")
			return
		}
		var rec map[string]any
		if id == "" {
			rec = map[string]any{}
			if u, perr := uuid.Parse(seg); perr == nil {
				id = u.String()
			} else {
				id = uuid.NewString()
				rec["ticketnumber"] = alt
			}
			rec["incidentid"] = id
		} else {
			rec = maps(f.recs[id])
		}
		for k, v := range body {
			rec[k] = v
		}
		f.putLocked(rec)
		w.Header().Set("OData-EntityId", f.entityURL(r, id))
		w.WriteHeader(204)
	default:
		writeErr(w, 405, "", "method not allowed")
	}
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var (
	geRe    = regexp.MustCompile(`incidentid ge ([0-9a-f-]{36})`)
	ltRe    = regexp.MustCompile(`incidentid lt ([0-9a-f-]{36})`)
	titleRe = regexp.MustCompile(`title eq '((?:[^']|'')*)'`)
)

func (f *fakeDV) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefer := r.Header.Get("Prefer")
	pageSize := 5000
	if m := regexp.MustCompile(`odata\.maxpagesize=(\d+)`).FindStringSubmatch(prefer); m != nil {
		pageSize, _ = strconv.Atoi(m[1])
	}
	tracking := strings.Contains(prefer, "odata.track-changes")
	filter := q.Get("$filter")
	f.mu.Lock()
	defer f.mu.Unlock()
	if dt := q.Get("$deltatoken"); dt != "" {
		v, _ := strconv.ParseInt(dt, 10, 64)
		if v < f.expiredBefore {
			writeErr(w, 400, "0x80044352", "Version stamp associated with the client has expired. Please perform a full sync.")
			return
		}
		f.delta(w, r, v)
		return
	}
	var ids []string
	for id, rec := range f.recs {
		if m := geRe.FindStringSubmatch(filter); m != nil && f.less(id, m[1]) {
			continue
		}
		if m := ltRe.FindStringSubmatch(filter); m != nil && !f.less(id, m[1]) {
			continue
		}
		if m := titleRe.FindStringSubmatch(filter); m != nil && rec["title"] != strings.ReplaceAll(m[1], "''", "'") {
			continue
		}
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if f.less(a, b) {
			return -1
		}
		if a == b {
			return 0
		}
		return 1
	})
	if after := q.Get("$skiptoken"); after != "" {
		i := 0
		for i < len(ids) && !f.less(after, ids[i]) {
			i++
		}
		ids = ids[i:]
	}
	var sel []string
	if s := q.Get("$select"); s != "" {
		sel = strings.Split(s, ",")
	}
	page := ids
	more := false
	if len(page) > pageSize {
		page, more = page[:pageSize], true
	}
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	if strings.Contains(prefer, "odata.maxpagesize") {
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	var b bytes.Buffer
	b.WriteString(`{"@odata.context":"http://` + r.Host + `/api/data/v9.2/$metadata#incidents","value":[`)
	for i, id := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		rec := project(f.recs[id], sel)
		rec["@odata.etag"] = etagOf(f.recs[id])
		data, _ := json.Marshal(rec)
		b.Write(data)
	}
	b.WriteString("]")
	base := "http://" + r.Host + "/api/data/v9.2/incidents"
	if more {
		nq := url.Values{}
		for k, v := range q {
			if k != "$skiptoken" {
				nq[k] = v
			}
		}
		nq.Set("$skiptoken", page[len(page)-1])
		link, _ := json.Marshal(base + "?" + nq.Encode())
		b.WriteString(`,"@odata.nextLink":` + string(link))
	} else if tracking {
		link, _ := json.Marshal(base + "?$select=" + url.QueryEscape(q.Get("$select")) + "&$deltatoken=" + strconv.FormatInt(f.version, 10))
		b.WriteString(`,"@odata.deltaLink":` + string(link))
	}
	b.WriteString("}")
	w.Write(b.Bytes())
}

func (f *fakeDV) delta(w http.ResponseWriter, r *http.Request, since int64) {
	last := map[string]fakeChange{}
	for _, c := range f.changes {
		if c.version > since {
			last[c.id] = c
		}
	}
	var upserts, deletes []any
	for id, c := range last {
		if c.deleted {
			deletes = append(deletes, map[string]any{"@odata.context": "http://" + r.Host + "/api/data/v9.2/$metadata#incidents/$deletedEntity", "id": id, "reason": "deleted"})
		} else if rec, ok := f.recs[id]; ok {
			upserts = append(upserts, maps(rec))
		}
	}
	link := "http://" + r.Host + "/api/data/v9.2/incidents?$deltatoken=" + strconv.FormatInt(f.version, 10)
	json.NewEncoder(w).Encode(map[string]any{
		"@odata.context":   "http://" + r.Host + "/api/data/v9.2/$metadata#incidents/$delta",
		"value":            append(upserts, deletes...),
		"@odata.deltaLink": link,
	})
}

func project(rec map[string]any, sel []string) map[string]any {
	if len(sel) == 0 {
		return maps(rec)
	}
	out := map[string]any{"incidentid": rec["incidentid"]}
	for _, c := range sel {
		if v, ok := rec[c]; ok {
			out[c] = v
		}
	}
	return out
}

// bulkMessage implements Create/Update/UpsertMultiple atomically.
func (f *fakeDV) bulkMessage(w http.ResponseWriter, r *http.Request, msg string) {
	if !f.bulk {
		writeErr(w, 404, "0x8006088a", "Resource not found for the segment '"+msg+"'.")
		return
	}
	var body struct {
		Targets []map[string]any `json:"Targets"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		writeErr(w, 400, "0x0", "bad json")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := map[string]bool{}
	type op struct {
		id  string
		rec map[string]any
	}
	var ops []op
	for _, t := range body.Targets {
		if t["@odata.type"] != "Microsoft.Dynamics.CRM.incident" {
			writeErr(w, 400, "0x0", "@odata.type missing")
			return
		}
		clean := map[string]any{}
		for k, v := range t {
			if !strings.HasPrefix(k, "@") {
				clean[k] = v
			}
		}
		if st, code, msg := validate(clean); st != 0 {
			writeErr(w, st, code, msg)
			return
		}
		id, _ := clean["incidentid"].(string)
		alt := ""
		if oid, ok := t["@odata.id"].(string); ok {
			m := keyRe.FindStringSubmatch(oid)
			if m == nil {
				writeErr(w, 400, "0x0", "bad @odata.id")
				return
			}
			var err error
			id, alt, err = f.resolveKeyLocked(m[1])
			if err != nil {
				writeErr(w, 400, "0x0", err.Error())
				return
			}
			clean["ticketnumber"] = alt
		}
		k := id + "|" + alt
		if seen[k] && msg == "UpsertMultiple" {
			writeErr(w, 400, "0x0", "duplicate key in Targets")
			return
		}
		seen[k] = true
		_, exists := f.recs[id]
		switch msg {
		case "CreateMultiple":
			if exists {
				writeErr(w, 412, "0x80040237", "Cannot insert duplicate key.")
				return
			}
		case "UpdateMultiple":
			if !exists {
				writeErr(w, 404, "0x80040217", "incident With Id = "+id+" Does Not Exist")
				return
			}
		}
		if id == "" {
			id = uuid.NewString()
		}
		rec := map[string]any{}
		if exists {
			rec = maps(f.recs[id])
		}
		for k, v := range clean {
			rec[k] = v
		}
		rec["incidentid"] = id
		ops = append(ops, op{id, rec})
	}
	ids := []string{}
	for _, o := range ops {
		f.putLocked(o.rec)
		ids = append(ids, o.id)
	}
	if msg == "CreateMultiple" {
		json.NewEncoder(w).Encode(map[string]any{"@odata.context": "x#Microsoft.Dynamics.CRM.CreateMultipleResponse", "Ids": ids})
		return
	}
	w.WriteHeader(204)
}

// batch runs each operation through the fake itself.
func (f *fakeDV) batch(w http.ResponseWriter, r *http.Request) {
	parts, err := batchwire.ReadRequest(r.Body, r.Header.Get("Content-Type"))
	if err != nil {
		writeErr(w, 400, "0x0", err.Error())
		return
	}
	continueOnError := strings.Contains(r.Header.Get("Prefer"), "odata.continue-on-error")
	run := func(req batchwire.Request) batchwire.Response {
		u, _ := url.Parse("http://" + r.Host + req.URL)
		inner, _ := http.NewRequest(req.Method, u.String(), bytes.NewReader(req.Body))
		inner.Host = r.Host
		inner.Header = req.Header.HTTP()
		rec := httptest.NewRecorder()
		f.serve(rec, inner)
		var h batchwire.Header
		for _, k := range []string{"OData-EntityId", "Content-Type", "Retry-After"} {
			if v := rec.Header().Get(k); v != "" {
				h.Add(k, v)
			}
		}
		body, _ := io.ReadAll(rec.Body)
		return batchwire.Response{ContentID: req.ContentID, StatusCode: rec.Code, Header: h, Body: body}
	}
	var out []batchwire.ResponsePart
	status := 200
	for _, p := range parts {
		if p.Request != nil {
			f.txMu.RLock()
			resp := run(*p.Request)
			f.txMu.RUnlock()
			out = append(out, batchwire.ResponsePart{Response: &resp})
			if resp.StatusCode >= 400 && !continueOnError {
				status = resp.StatusCode
				break
			}
			continue
		}
		f.txMu.Lock()
		f.mu.Lock()
		snapshot, snapVersion, snapChanges := map[string]map[string]any{}, f.version, len(f.changes)
		for k, v := range f.recs {
			snapshot[k] = maps(v)
		}
		f.mu.Unlock()
		var rs []batchwire.Response
		failed := -1
		for i, req := range p.ChangeSet {
			resp := run(req)
			if resp.StatusCode >= 400 {
				failed = i
				rs = []batchwire.Response{resp}
				break
			}
			rs = append(rs, resp)
		}
		if failed >= 0 {
			f.mu.Lock()
			f.recs, f.version, f.changes = snapshot, snapVersion, f.changes[:snapChanges]
			f.mu.Unlock()
		}
		f.txMu.Unlock()
		if failed >= 0 {
			resp := rs[0]
			out = append(out, batchwire.ResponsePart{Response: &resp})
			if !continueOnError {
				status = resp.StatusCode
				break
			}
			continue
		}
		out = append(out, batchwire.ResponsePart{ChangeSet: rs})
	}
	boundary := batchwire.NewBoundary("batchresponse")
	w.Header().Set("Content-Type", batchwire.ResponseContentType(boundary))
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	batchwire.WriteResponse(w, boundary, out)
}
