package odooserver

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// methodSpec describes an ORM method as RPC sees it: whether it is bound to
// records (ids come first in execute_kw args and as "ids" in JSON-2) and the
// names of its parameters, in order, so positional and named calls bind the
// same way Python would.
type methodSpec struct {
	recordBound bool
	params      []string
	write       bool // needs the write lock
	// since/until bound the versions that have the method (0: no bound).
	since, until int
	kwOnly       bool // every parameter is keyword-only (def f(self, *, ...))
	anyKw        bool // **kwargs: unknown keywords are accepted
}

var methods = map[string]methodSpec{
	"search_read":  {params: []string{"domain", "fields", "offset", "limit", "order"}},
	"search":       {params: []string{"domain", "offset", "limit", "order"}},
	"search_count": {params: []string{"domain", "limit"}},
	"read":         {recordBound: true, params: []string{"fields", "load"}},
	"fields_get":   {params: []string{"allfields", "attributes"}},
	"create":       {params: []string{"vals_list"}, write: true},
	"write":        {recordBound: true, params: []string{"vals"}, write: true},
	"unlink":       {recordBound: true, write: true},
	"context_get":  {},

	// orm_public.go. Signatures from BaseModel per version: name_search's
	// domain was called args up to 18 and default_get's fields argument
	// fields_list (both renamed in 19, per the 18.0 → 19.0 signatures);
	// name_get went away in 18 (deprecated in 17); read_group
	// is deprecated in 19, which adds formatted_read_group; search_fetch,
	// web_read and web_search_read's specification arrived in 17.
	"name_search":          {params: []string{"name", "domain", "operator", "limit"}},
	"check_access_rights":  {params: []string{"operation", "raise_exception"}},
	"name_get":             {recordBound: true, until: 17},
	"read_group":           {params: []string{"domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"}},
	"formatted_read_group": {params: []string{"domain", "groupby", "aggregates", "having", "offset", "limit", "order"}, since: 19},
	"default_get":          {params: []string{"fields_list"}},
	"copy":                 {recordBound: true, params: []string{"default"}, write: true},
	"exists":               {recordBound: true},
	"name_create":          {params: []string{"name"}, write: true},
	"action_archive":       {recordBound: true, write: true},
	"action_unarchive":     {recordBound: true, write: true},
	"search_fetch":         {params: []string{"domain", "field_names", "offset", "limit", "order"}, since: 17},
	"web_search_read":      {params: []string{"domain", "specification", "offset", "limit", "order", "count_limit"}},
	"web_read":             {recordBound: true, params: []string{"specification"}, since: 17},
	// mail.thread.message_post(self, *, body, ..., **kwargs): keyword-only,
	// extra keywords become mail.message values.
	"message_post": {recordBound: true, kwOnly: true, anyKw: true, write: true,
		params: []string{"body", "subject", "message_type", "email_from", "author_id", "parent_id", "subtype_xmlid", "subtype_id", "partner_ids", "attachments", "attachment_ids", "body_is_html"}},
}

// call is one bound ORM invocation.
type call struct {
	model  string
	method string
	ids    []int
	args   map[string]any
	ctx    map[string]any
	// deadline is when Odoo's --limit-time-real would kill the worker
	// (zero: no limit); checks counts the checks made against it.
	deadline time.Time
	checks   int
}

// errTimeLimit stands for a worker killed by --limit-time-real.
type errTimeLimit struct{ limit time.Duration }

func (e errTimeLimit) Error() string {
	return fmt.Sprintf("the call ran past the emulated --limit-time-real of %v", e.limit)
}

// overTime is polled in loops over records; it looks at the clock every
// 256 calls so that the check costs nothing measurable.
func (c *call) overTime() error {
	if c.deadline.IsZero() {
		return nil
	}
	c.checks++
	if c.checks%256 == 0 && time.Now().After(c.deadline) {
		return errTimeLimit{}
	}
	return nil
}

// sub is a call made on behalf of c (same context and deadline).
func (c *call) sub(method string, args map[string]any) *call {
	return &call{model: c.model, method: method, ctx: c.ctx, args: args, deadline: c.deadline}
}

// bindPositional binds execute_kw's args/kwargs to the method's parameters.
// specFor adjusts a method's signature to the version: search_count gained
// its limit parameter in 17.
func specFor(version int, method string) (methodSpec, bool) {
	spec, ok := methods[method]
	if !ok || (spec.since != 0 && version < spec.since) || (spec.until != 0 && version > spec.until) {
		return methodSpec{}, false
	}
	switch {
	case method == "search_count" && version < 17:
		spec.params = []string{"domain"}
	case method == "name_search" && version < 19:
		spec.params = []string{"name", "args", "operator", "limit"}
	case method == "default_get" && version >= 19:
		spec.params = []string{"fields"}
	case method == "web_search_read" && version < 17:
		spec.params = []string{"domain", "fields", "offset", "limit", "order", "count_limit"}
	}
	return spec, ok
}

func bindPositional(version int, model, method string, args []any, kwargs map[string]any) (*call, error) {
	spec, ok := specFor(version, method)
	if strings.HasPrefix(method, "_") {
		return nil, errPrivateMethod(version, model, method)
	}
	if !ok {
		return nil, errNoMethod(version, model, method)
	}
	c := &call{model: model, method: method, args: map[string]any{}}
	if spec.recordBound {
		if len(args) == 0 {
			return nil, errType("%s() missing 1 required positional argument: 'self'", method)
		}
		c.ids = idList(args[0])
		if _, single := asInt(args[0]); !single {
			if _, isList := args[0].([]any); !isList {
				return nil, errType("%s(): ids must be a list of integers, got %s", method, pyRepr(args[0]))
			}
		}
		args = args[1:]
	}
	if spec.kwOnly && len(args) > 0 {
		return nil, errType("%s() takes 1 positional argument but %d were given", method, len(args)+1)
	}
	if len(args) > len(spec.params) {
		return nil, errType("%s() takes %d positional arguments but %d were given", method, len(spec.params)+1, len(args)+1)
	}
	for i, a := range args {
		c.args[spec.params[i]] = a
	}
	if method == "create" && len(args) == 0 {
		// odoo/api.py _call_kw_model_create looks at args[0] after the call
		// to pick id vs ids: kwargs-only creates fail (and roll back).
		return nil, &rpcError{name: "builtins.IndexError", message: "tuple index out of range", httpStatus: http.StatusInternalServerError, fault: faultApplication}
	}
	for k, v := range kwargs {
		if k == "context" {
			c.ctx, _ = v.(map[string]any)
			continue
		}
		if _, dup := c.args[k]; dup {
			return nil, errType("%s() got multiple values for argument '%s'", method, k)
		}
		if !slices.Contains(spec.params, k) && !spec.anyKw {
			return nil, errType("%s() got an unexpected keyword argument '%s'", method, k)
		}
		c.args[k] = v
	}
	return c, nil
}

// bindNamed binds a JSON-2 body, where every argument is named, with the
// errors of addons/rpc/controllers/json2.py web_json_2_rpc.
func bindNamed(version int, model, method string, body map[string]any) (*call, error) {
	if strings.HasPrefix(method, "_") {
		return nil, errPrivateMethod(version, model, method)
	}
	spec, ok := specFor(version, method)
	if !ok {
		return nil, errHTTP("NotFound", http.StatusNotFound, fmt.Sprintf("The method '%s.%s' does not exist", model, method))
	}
	c := &call{model: model, method: method, args: map[string]any{}}
	for k, v := range body {
		switch {
		case k == "ids":
			if !spec.recordBound && len(idList(v)) > 0 {
				return nil, errHTTP("UnprocessableEntity", http.StatusUnprocessableEntity, fmt.Sprintf("cannot call %s.%s with ids", model, method))
			}
			c.ids = idList(v)
		case k == "context":
			c.ctx, _ = v.(map[string]any)
		case slices.Contains(spec.params, k) || spec.anyKw:
			c.args[k] = v
		default:
			// inspect.signature(func).bind(...) fails → UnprocessableEntity.
			return nil, errHTTP("UnprocessableEntity", http.StatusUnprocessableEntity, fmt.Sprintf("got an unexpected keyword argument '%s'", k))
		}
	}
	return c, nil
}

func (c *call) activeTest() bool {
	if v, ok := c.ctx["active_test"]; ok {
		return truthy(v)
	}
	return true
}

func (c *call) intArg(name string) (int, error) {
	v, ok := c.args[name]
	// Odoo tests offset/limit for truthiness (Query.select), so None, False,
	// 0 and '' all mean "default"; odoo-await sends '' for unset options.
	if !ok || !truthy(v) {
		return 0, nil
	}
	n, ok := asInt(v)
	if !ok || n < 0 {
		return 0, errValue("Invalid %s: %s", name, pyRepr(v))
	}
	return n, nil
}

func (c *call) stringArg(name string) string {
	s, _ := c.args[name].(string)
	return s
}

func (c *call) fieldsArg(m *modelDef) ([]*fieldDef, error) {
	raw, _ := c.args["fields"].([]any)
	if len(raw) == 0 {
		out := make([]*fieldDef, 0, len(m.fieldNames))
		for _, n := range m.fieldNames {
			out = append(out, m.fields[n])
		}
		return out, nil
	}
	out := []*fieldDef{m.fields["id"]}
	for _, x := range raw {
		name, _ := x.(string)
		f, ok := m.fields[name]
		if !ok {
			return nil, errValue("Invalid field %s on model %s", pyRepr(name), pyRepr(m.name))
		}
		if name != "id" {
			out = append(out, f)
		}
	}
	return out, nil
}

// execute runs a bound call against the store. The caller holds the lock
// matching methods[c.method].write.
func (srv *Server) execute(c *call) (any, error) {
	s := srv.store
	m, t, err := s.model(c.model)
	if err != nil {
		return nil, err
	}
	need := "read"
	switch c.method {
	case "create", "write", "unlink":
		need = c.method
	case "copy", "name_create":
		need = "create"
	case "action_archive", "action_unarchive":
		need = "write"
	case "check_access_rights":
		need = "" // answers about access instead of needing it
	}
	if need != "" && !allowed(m.access, need) {
		return nil, errModelAccess(m, need)
	}
	switch c.method {
	case "search_read":
		fields, err := c.fieldsArg(m)
		if err != nil {
			return nil, err
		}
		recs, err := srv.search(m, t, c)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(recs))
		for i, r := range recs {
			out[i] = readRecord(s, m, r, fields)
		}
		return out, nil
	case "search":
		recs, err := srv.search(m, t, c)
		if err != nil {
			return nil, err
		}
		ids := make([]any, len(recs))
		for i, r := range recs {
			ids[i] = r.id
		}
		return ids, nil
	case "search_count":
		limit, err := c.intArg("limit")
		if err != nil {
			return nil, err
		}
		delete(c.args, "limit")
		recs, err := srv.search(m, t, c)
		if err != nil {
			return nil, err
		}
		if limit > 0 && len(recs) > limit {
			return limit, nil
		}
		return len(recs), nil
	case "read":
		fields, err := c.fieldsArg(m)
		if err != nil {
			return nil, err
		}
		recs, err := s.lookup(m, t, c.ids)
		if err != nil {
			return nil, err
		}
		// load=None (anything but "_classic_read") returns many2one values
		// as bare ids instead of [id, display_name].
		load, hasLoad := c.args["load"]
		bareM2O := hasLoad && load != "_classic_read"
		out := make([]any, len(recs))
		for i, r := range recs {
			rec := readRecord(s, m, r, fields)
			if bareM2O {
				for _, f := range fields {
					if v, _ := rec.get(f.name); f.typ == tMany2one {
						if pair, ok := v.([]any); ok {
							rec.set(f.name, pair[0])
						}
					}
				}
			}
			out[i] = rec
		}
		return out, nil
	case "fields_get":
		return fieldsGet(m, c), nil
	case "create":
		return srv.create(m, t, c)
	case "write":
		vals, ok := c.args["vals"].(map[string]any)
		if !ok {
			return nil, errType("write() missing 1 required positional argument: 'vals'")
		}
		recs, err := s.lookup(m, t, c.ids)
		if err != nil {
			return nil, err
		}
		if err := srv.checkSchemaChange(m, recs, false); err != nil {
			return nil, err
		}
		for _, r := range recs {
			if err := srv.writeRecord(m, r, vals); err != nil {
				return nil, err
			}
		}
		return true, nil
	case "unlink":
		recs, err := s.lookup(m, t, c.ids)
		if err != nil {
			return nil, err
		}
		if err := srv.checkSchemaChange(m, recs, true); err != nil {
			return nil, err
		}
		for _, r := range recs {
			srv.unlinkRecord(m, t, r)
			srv.dropCustom(m, r)
			if m.name == "helpdesk.ticket" {
				// ondelete='cascade' on helpdesk.sla.status.ticket_id.
				if sm, st, err := s.model("helpdesk.sla.status"); err == nil {
					for _, id := range slices.Clone(s.inverse["helpdesk.sla.status.ticket_id"][r.id]) {
						srv.unlinkRecord(sm, st, st.byID[id])
					}
				}
			}
		}
		return true, nil
	case "context_get":
		if m.name != "res.users" {
			return nil, errNoMethod(srv.opts.Version, m.name, c.method)
		}
		lang, tz := "en_US", "UTC"
		if admin := srv.store.tables["res.users"].byID[adminUID]; admin != nil {
			if v, _ := admin.get(m, "lang").(string); v != "" {
				lang = v
			}
			if v, _ := admin.get(m, "tz").(string); v != "" {
				tz = v
			}
		}
		return map[string]any{"lang": lang, "tz": tz, "uid": adminUID}, nil
	}
	if out, ok, err := srv.executePublic(c, m, t); ok {
		return out, err
	}
	return nil, errNoMethod(srv.opts.Version, c.model, c.method)
}

func allowed(a access, op string) bool {
	switch op {
	case "read":
		return a.read
	case "write":
		return a.write
	case "create":
		return a.create
	}
	return a.unlink
}

func readRecord(s *store, m *modelDef, r *record, fields []*fieldDef) *recordOut {
	out := newRecordOut(len(fields) + 1)
	out.add("id", r.id)
	for _, f := range fields {
		if f.name != "id" {
			out.add(f.name, s.convertOut(m, f, r))
		}
	}
	return out
}

func (srv *Server) search(m *modelDef, t *table, c *call) ([]*record, error) {
	s := srv.store
	dom, err := parseDomain(s, m, c.args["domain"], srv.opts.Version)
	if err != nil {
		return nil, err
	}
	if f, ok := m.fields["active"]; ok && c.activeTest() && !mentionsActive(dom) {
		dom = andCond{dom, &leaf{path: []*fieldDef{f}, op: "=", val: true}}
	}
	offset, err := c.intArg("offset")
	if err != nil {
		return nil, err
	}
	limit, err := c.intArg("limit")
	if err != nil {
		return nil, err
	}
	order := c.stringArg("order")
	if order == "" {
		order = m.order
	}
	keys, err := parseOrder(m, order)
	if err != nil {
		return nil, err
	}
	// Ordering by id alone needs no sort: scan the id index, starting at
	// the keyset bound, and stop once the page is full.
	if len(keys) == 1 && keys[0].f.name == "id" {
		var out []*record
		skipped := 0
		var late error
		visit := func(id int) bool {
			if late = c.overTime(); late != nil {
				return false
			}
			r := t.byID[id]
			if !dom.eval(s, m, r) {
				return true
			}
			if skipped < offset {
				skipped++
				return true
			}
			out = append(out, r)
			return limit == 0 || len(out) < limit
		}
		if keys[0].desc {
			for i := len(t.ids) - 1; i >= 0 && visit(t.ids[i]); i-- {
			}
		} else {
			start := sort.SearchInts(t.ids, idLowerBound(dom))
			for i := start; i < len(t.ids) && visit(t.ids[i]); i++ {
			}
		}
		if late != nil {
			return nil, late
		}
		return out, nil
	}
	var out []*record
	for _, id := range t.ids {
		if err := c.overTime(); err != nil {
			return nil, err
		}
		if r := t.byID[id]; dom.eval(s, m, r) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b *record) int { return compareRecords(m, keys, a, b) })
	if offset >= len(out) {
		return nil, nil
	}
	out = out[offset:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func fieldsGet(m *modelDef, c *call) map[string]any {
	var want []string
	if raw, ok := c.args["allfields"].([]any); ok {
		for _, x := range raw {
			if s, ok := x.(string); ok {
				want = append(want, s)
			}
		}
	}
	var attrs []string
	if raw, ok := c.args["attributes"].([]any); ok {
		for _, x := range raw {
			if s, ok := x.(string); ok {
				attrs = append(attrs, s)
			}
		}
	}
	out := map[string]any{}
	for _, name := range m.fieldNames {
		if len(want) > 0 && !slices.Contains(want, name) {
			continue
		}
		f := m.fields[name]
		desc := map[string]any{
			"type":       f.typ,
			"string":     f.label,
			"required":   f.required,
			"readonly":   f.readonly,
			"store":      f.stored(),
			"searchable": true,
			"sortable":   f.stored() && f.typ != tMany2many,
			"name":       f.name,
		}
		if f.relation != "" {
			// Relational fields always describe their domain and context
			// (fields.py _Relational: domain=[] and context={} by default).
			desc["relation"] = f.relation
			desc["domain"] = []any{}
			if f.domain != nil {
				desc["domain"] = f.domain
			}
			desc["context"] = map[string]any{}
		}
		if f.help != "" {
			desc["help"] = f.help
		}
		switch f.typ {
		case tChar, tText, tHTML:
			desc["translate"] = false
		}
		desc["exportable"] = true
		desc["company_dependent"] = false
		desc["manual"] = false
		desc["change_default"] = false
		desc["depends"] = []any{}
		if f.inverse != "" {
			desc["relation_field"] = f.inverse
		}
		if f.typ == tSelection {
			sel := make([]any, len(f.selection))
			for i, kv := range f.selection {
				sel[i] = []any{kv[0], kv[1]}
			}
			desc["selection"] = sel
		}
		if len(attrs) > 0 {
			for k := range maps.Keys(desc) {
				if !slices.Contains(attrs, k) {
					delete(desc, k)
				}
			}
		}
		out[name] = desc
	}
	return out
}

func (srv *Server) create(m *modelDef, t *table, c *call) (any, error) {
	raw := c.args["vals_list"]
	var list []map[string]any
	single := false
	switch x := raw.(type) {
	case map[string]any:
		list, single = []map[string]any{x}, true
	case []any:
		for _, v := range x {
			vals, ok := v.(map[string]any)
			if !ok {
				return nil, errValue("create() expects a dict or a list of dicts, got %s", pyRepr(v))
			}
			list = append(list, vals)
		}
	default:
		return nil, errType("create() missing 1 required positional argument: 'vals_list'")
	}
	ids := make([]any, 0, len(list))
	for _, vals := range list {
		r, err := srv.insert(m, t, vals, 0)
		if err != nil {
			return nil, err
		}
		ids = append(ids, r.id)
	}
	if single {
		return ids[0], nil
	}
	return ids, nil
}

// insert creates one record. id is used by seeding (0 = next id).
func (srv *Server) insert(m *modelDef, t *table, vals map[string]any, id int) (*record, error) {
	s := srv.store
	if id == 0 {
		id = t.nextID
	}
	if t.byID[id] != nil {
		return nil, errValidation("%s(%d,) already exists", m.name, id)
	}
	r := &record{id: id, vals: make([]any, len(m.fieldNames))}
	for _, name := range m.fieldNames {
		f := m.fields[name]
		if f.def != nil {
			r.vals[f.pos] = f.def
		}
	}
	now := s.nowString()
	r.vals[m.fields["create_date"].pos] = now
	r.vals[m.fields["write_date"].pos] = now
	r.vals[m.fields["create_uid"].pos] = adminUID
	r.vals[m.fields["write_uid"].pos] = adminUID
	if err := srv.assign(m, r, vals, true); err != nil {
		return nil, err
	}
	srv.onCreate(m, r, vals)
	if err := srv.validateCreate(m, r); err != nil {
		return nil, err
	}
	for _, name := range m.fieldNames {
		if f := m.fields[name]; f.required && isNull(r.vals[f.pos]) {
			return nil, errValidation("The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: %s (%s)\nField: %s (%s)", m.description, m.name, f.label, f.name)
		}
	}
	t.byID[id] = r
	if n := len(t.ids); n == 0 || t.ids[n-1] < id {
		t.ids = append(t.ids, id)
	} else {
		i, _ := slices.BinarySearch(t.ids, id)
		t.ids = slices.Insert(t.ids, i, id)
	}
	if id >= t.nextID {
		t.nextID = id + 1
	}
	s.index(m, r)
	srv.afterCreate(m, r)
	if srv.appliesSLA(m) {
		srv.applySLA(m, r, nil)
	}
	return r, nil
}

// appliesSLA: Enterprise tickets changed over RPC (seeds bring statuses).
func (srv *Server) appliesSLA(m *modelDef) bool {
	return !srv.seeding && m.name == "helpdesk.ticket" && srv.opts.Flavour == FlavourEnterprise
}

// unlinkRecord deletes r from its table and indexes.
func (srv *Server) unlinkRecord(m *modelDef, t *table, r *record) {
	srv.store.unindex(m, r)
	delete(t.byID, r.id)
	if i, ok := slices.BinarySearch(t.ids, r.id); ok {
		t.ids = slices.Delete(t.ids, i, i+1)
	}
}

// assign converts and stores vals on r; it does not run business rules.
func (srv *Server) assign(m *modelDef, r *record, vals map[string]any, creating bool) error {
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		f, ok := m.fields[name]
		if !ok {
			return errValue("Invalid field %s on model %s", pyRepr(name), pyRepr(m.name))
		}
		if name == "id" || name == "display_name" {
			continue
		}
		var current []int
		if cur, ok := r.vals[f.pos].([]int); ok {
			current = cur
		}
		v, err := srv.store.convertIn(m, f, vals[name], current)
		if err != nil {
			return err
		}
		r.vals[f.pos] = v
	}
	return nil
}

func (srv *Server) writeRecord(m *modelDef, r *record, vals map[string]any) error {
	s := srv.store
	// Work on a copy so that a failing write leaves the record untouched.
	next := &record{id: r.id, vals: slices.Clone(r.vals)}
	if err := srv.assign(m, next, vals, false); err != nil {
		return err
	}
	if _, ok := vals["write_date"]; !ok {
		next.vals[m.fields["write_date"].pos] = s.nowString()
	}
	next.vals[m.fields["write_uid"].pos] = adminUID
	srv.onWrite(m, r, next, vals)
	for _, name := range m.fieldNames {
		if f := m.fields[name]; f.required && isNull(next.vals[f.pos]) {
			return errValidation("The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: %s (%s)\nField: %s (%s)", m.description, m.name, f.label, f.name)
		}
	}
	s.unindex(m, r)
	old := &record{id: r.id, vals: r.vals}
	r.vals = next.vals
	s.index(m, r)
	if srv.appliesSLA(m) {
		srv.applySLA(m, r, old)
	}
	return nil
}

// onCreate applies the stored computes and defaults that a helpdesk
// migration observes (research/odoo.md §2 and §3).
func (srv *Server) onCreate(m *modelDef, r *record, vals map[string]any) {
	s := srv.store
	set := func(field string, v any) {
		if f, ok := m.fields[field]; ok {
			r.vals[f.pos] = v
		}
	}
	switch m.name {
	case "helpdesk.ticket":
		if m.has("ticket_ref") && isNull(r.get(m, "ticket_ref")) {
			set("ticket_ref", fmt.Sprintf("%02d", s.nextSequence("helpdesk.ticket")))
		}
		if m.has("number") && isNull(r.get(m, "number")) {
			set("number", fmt.Sprintf("HT%05d", s.nextSequence("helpdesk.ticket.sequence")))
		}
		if m.has("number") && isZero(r.get(m, "company_id")) {
			set("company_id", 1) // OCA: default=lambda self: self.env.company
		}
		if team, _ := r.get(m, "team_id").(int); team != 0 && isZero(r.get(m, "stage_id")) {
			set("stage_id", srv.firstStage(team))
		}
		now := r.get(m, "create_date")
		if !m.has("number") { // Enterprise
			if _, ok := vals["date_last_stage_update"]; !ok {
				set("date_last_stage_update", now)
			}
			if _, ok := vals["assign_date"]; !ok && !isZero(r.get(m, "user_id")) {
				set("assign_date", now)
			}
		} else {
			if _, ok := vals["last_stage_update"]; !ok {
				set("last_stage_update", now)
			}
			if _, ok := vals["assigned_date"]; !ok && !isZero(r.get(m, "user_id")) {
				set("assigned_date", now)
			}
		}
		srv.ticketComputes(m, nil, r, vals)
	case "res.partner":
		srv.partnerComputes(m, r)
	case "ir.attachment":
		attachmentComputes(m, r)
	case "mail.message":
		if isNull(r.get(m, "date")) {
			set("date", r.get(m, "create_date"))
		}
		if isNull(r.get(m, "message_id")) {
			set("message_id", fmt.Sprintf("<%d.%s@dvsync.odoo>", r.id, messageIDStamp.Replace(r.get(m, "create_date").(string))))
		}
		srv.messageComputes(m, r)
	}
}

func (srv *Server) onWrite(m *modelDef, old, next *record, vals map[string]any) {
	switch m.name {
	case "helpdesk.ticket":
		srv.ticketComputes(m, old, next, vals)
	case "res.partner":
		srv.partnerComputes(m, next)
	case "ir.attachment":
		attachmentComputes(m, next)
	case "mail.message":
		srv.messageComputes(m, next)
	}
}

var messageIDStamp = strings.NewReplacer(" ", ".", ":", "")

func isZero(v any) bool { n, _ := v.(int); return n == 0 }

func (srv *Server) firstStage(team int) int {
	s := srv.store
	stageModel := "helpdesk.stage"
	if _, ok := s.models[stageModel]; !ok {
		stageModel = "helpdesk.ticket.stage"
	}
	m, t, _ := s.model(stageModel)
	keys, _ := parseOrder(m, m.order)
	var best *record
	for _, id := range t.ids {
		r := t.byID[id]
		teams := relatedIDs(s, m, m.fields["team_ids"], r)
		if len(teams) > 0 && !slices.Contains(teams, team) {
			continue
		}
		if best == nil || compareRecords(m, keys, r, best) < 0 {
			best = r
		}
	}
	if best == nil {
		return 0
	}
	return best.id
}

// ticketComputes keeps stage-, partner- and assignment-derived fields in
// step. old is nil on create.
func (srv *Server) ticketComputes(m *modelDef, old, r *record, vals map[string]any) {
	s := srv.store
	set := func(field string, v any) {
		if f, ok := m.fields[field]; ok {
			r.vals[f.pos] = v
		}
	}
	now := r.get(m, "write_date")
	if old == nil {
		now = r.get(m, "create_date")
	}
	oca := m.has("number")
	stageModel := "helpdesk.stage"
	closedFlag := "fold"
	if oca {
		stageModel, closedFlag = "helpdesk.ticket.stage", "closed"
	}
	sm, st, _ := s.model(stageModel)
	stageID, _ := r.get(m, "stage_id").(int)
	closed, unattended := false, false
	if stage := st.byID[stageID]; stage != nil {
		closed, _ = stage.get(sm, closedFlag).(bool)
		unattended, _ = stage.get(sm, "unattended").(bool)
	}
	if oca {
		set("closed", closed)
		set("unattended", unattended)
	} else if m.has("fold") {
		set("fold", closed)
	}
	closeField, stageDate, assignField := "close_date", "date_last_stage_update", "assign_date"
	if oca {
		closeField, stageDate, assignField = "closed_date", "last_stage_update", "assigned_date"
	}
	if old != nil {
		oldStage, _ := old.get(m, "stage_id").(int)
		if oldStage != stageID {
			if _, ok := vals[stageDate]; !ok {
				set(stageDate, now)
			}
			if _, ok := vals[closeField]; !ok {
				if closed {
					set(closeField, now)
				} else {
					set(closeField, nil)
				}
			}
		}
		if isZero(old.get(m, "user_id")) && !isZero(r.get(m, "user_id")) && isNull(r.get(m, assignField)) {
			set(assignField, now)
		}
	} else if closed {
		if _, ok := vals[closeField]; !ok {
			set(closeField, now)
		}
	}
	// Partner-derived stored fields (EE _compute_partner_info; OCA onchange).
	if pid, _ := r.get(m, "partner_id").(int); pid != 0 {
		pm, pt, _ := s.model("res.partner")
		if p := pt.byID[pid]; p != nil {
			set("commercial_partner_id", p.get(pm, "commercial_partner_id"))
			if _, ok := vals["partner_name"]; !ok && (old == nil || old.get(m, "partner_id") != r.get(m, "partner_id")) {
				set("partner_name", p.get(pm, "name"))
				set("partner_email", p.get(pm, "email"))
				if m.has("partner_phone") {
					set("partner_phone", p.get(pm, "phone"))
				}
			}
		}
	} else {
		set("commercial_partner_id", 0)
	}
	// EE: company_id is related to the team's company.
	if !oca {
		if team, _ := r.get(m, "team_id").(int); team != 0 {
			tm, tt, _ := s.model("helpdesk.team")
			if t := tt.byID[team]; t != nil {
				set("company_id", t.get(tm, "company_id"))
			}
		}
	}
}

func (srv *Server) partnerComputes(m *modelDef, r *record) {
	s := srv.store
	set := func(field string, v any) { r.vals[m.fields[field].pos] = v }
	if _, ok := r.get(m, "company_type").(string); ok {
		isCompany, _ := r.get(m, "is_company").(bool)
		if isCompany {
			set("company_type", "company")
		} else {
			set("company_type", "person")
		}
	}
	commercial := r.id
	isCompany, _ := r.get(m, "is_company").(bool)
	if parent, _ := r.get(m, "parent_id").(int); parent != 0 && !isCompany {
		if p := s.tables["res.partner"].byID[parent]; p != nil {
			if c, _ := p.get(m, "commercial_partner_id").(int); c != 0 {
				commercial = c
			} else {
				commercial = parent
			}
		}
	}
	set("commercial_partner_id", commercial)
	set("complete_name", partnerDisplayName(s, r))
}

func (srv *Server) messageComputes(m *modelDef, r *record) {
	s := srv.store
	model, _ := r.get(m, "model").(string)
	resID, _ := r.get(m, "res_id").(int)
	if tm, tt, err := s.model(model); err == nil {
		if target := tt.byID[resID]; target != nil {
			r.vals[m.fields["record_name"].pos] = s.displayName(tm, target)
		}
	}
}
