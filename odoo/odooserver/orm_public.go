package odooserver

import (
	"encoding/base64"
	"errors"
	"fmt"
	htmlpkg "html"
	"maps"
	"mime"
	"path"
	"slices"
	"strings"
	"time"
)

// The public ORM methods beyond CRUD that Odoo's documentation and common
// integrations call. Each is gated by version the way BaseModel defines it
// (16/17 odoo/models.py, 18 odoo/models.py, 19 odoo/orm/models.py and
// addons/web/models/models.py); the deprecated ones log the
// DeprecationWarning Odoo logs and still answer.

// pyNoneT is a method's Python None result. JSON-RPC sends null; XML-RPC
// cannot marshal it (allow_none=False in addons/rpc/controllers/xmlrpc.py
// dumps), so the call fails with a TypeError fault after its effects are
// committed, as on Odoo (odoo/odoo#19889, #42268).
type pyNoneT struct{}

var pyNone = pyNoneT{}

func (pyNoneT) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

var errMarshalNone = errors.New("cannot marshal None unless allow_none is enabled")

// deprecation logs a method's DeprecationWarning as Odoo's server log would.
func (srv *Server) deprecation(c *call, text string) {
	srv.log.Warn("DeprecationWarning: "+text, "model", c.model, "method", c.method)
}

// executePublic runs the methods of this file; ok is false for others.
func (srv *Server) executePublic(c *call, m *modelDef, t *table) (any, bool, error) {
	s := srv.store
	v := srv.opts.Version
	switch c.method {
	case "name_search":
		out, err := srv.nameSearch(c, m, t)
		return out, true, err
	case "check_access_rights":
		if v >= 18 {
			// 18 odoo/models.py, 19 odoo/orm/models.py: @api.deprecated.
			srv.deprecation(c, "check_access_rights() is deprecated since 18.0; use check_access() instead.")
		}
		op, _ := c.args["operation"].(string)
		switch op {
		case "read", "write", "create", "unlink":
		default:
			// ir.model.access.check: assert mode in (...), 'Invalid access mode'
			return nil, true, &rpcError{name: "builtins.AssertionError", message: "Invalid access mode", httpStatus: 500, fault: faultApplication}
		}
		if allowed(m.access, op) {
			return true, true, nil
		}
		if raise, ok := c.args["raise_exception"]; ok && !truthy(raise) {
			return false, true, nil
		}
		return nil, true, errModelAccess(m, op)
	case "name_get":
		if v == 17 {
			srv.deprecation(c, "name_get is deprecated, use display_name instead")
		}
		recs, err := s.lookup(m, t, c.ids)
		if err != nil {
			return nil, true, err
		}
		out := make([]any, len(recs))
		for i, r := range recs {
			out[i] = []any{r.id, s.displayName(m, r)}
		}
		return out, true, nil
	case "read_group":
		if v >= 19 {
			srv.deprecation(c, "Since 19.0, read_group is deprecated. Please use _read_group in the backend code or formatted_read_group for a complete formatted result")
		}
		out, err := srv.readGroup(c, m, t)
		return out, true, err
	case "formatted_read_group":
		out, err := srv.formattedReadGroup(c, m, t)
		return out, true, err
	case "default_get":
		return srv.defaultGet(c, m), true, nil
	case "copy":
		out, err := srv.copyRecords(c, m, t)
		return out, true, err
	case "exists":
		out := []any{}
		for _, id := range c.ids {
			if t.byID[id] != nil {
				out = append(out, id)
			}
		}
		return out, true, nil
	case "name_create":
		name, _ := c.args["name"].(string)
		f, ok := m.fields[m.recName]
		if !ok || f.typ != tChar {
			// models.py name_create: "Cannot execute name_create, no _rec_name defined on %s"
			return nil, true, errUser("Cannot execute name_create, no _rec_name defined on %s", m.name)
		}
		r, err := srv.insert(m, t, map[string]any{m.recName: name}, 0)
		if err != nil {
			return nil, true, err
		}
		return []any{r.id, s.displayName(m, r)}, true, nil
	case "action_archive", "action_unarchive":
		if _, ok := m.fields["active"]; !ok {
			return nil, true, &rpcError{name: "builtins.AssertionError", message: fmt.Sprintf("No 'active' field on model %s", m.name), httpStatus: 500, fault: faultApplication}
		}
		recs, err := s.lookup(m, t, c.ids)
		if err != nil {
			return nil, true, err
		}
		want := c.method == "action_unarchive"
		for _, r := range recs {
			if truthy(r.get(m, "active")) != want {
				if err := srv.writeRecord(m, r, map[string]any{"active": want}); err != nil {
					return nil, true, err
				}
			}
		}
		// BaseModel.action_archive returns toggle_active()'s None.
		return pyNone, true, nil
	case "search_fetch":
		// 17+: returns the records; over RPC their ids.
		c.args["fields"] = c.args["field_names"]
		recs, err := srv.search(m, t, c)
		if err != nil {
			return nil, true, err
		}
		ids := make([]any, len(recs))
		for i, r := range recs {
			ids[i] = r.id
		}
		return ids, true, nil
	case "web_search_read":
		out, err := srv.webSearchRead(c, m, t)
		return out, true, err
	case "web_read":
		recs, err := s.lookup(m, t, c.ids)
		if err != nil {
			return nil, true, err
		}
		spec, _ := c.args["specification"].(map[string]any)
		out, err := srv.webRead(m, recs, spec)
		return out, true, err
	case "message_post":
		out, err := srv.messagePost(c, m, t)
		return out, true, err
	}
	return nil, false, nil
}

// nameSearch is BaseModel.name_search: display names matching name with
// operator, within the domain (called args up to 18), as [id, name] pairs.
func (srv *Server) nameSearch(c *call, m *modelDef, t *table) (any, error) {
	s := srv.store
	name, _ := c.args["name"].(string)
	op, _ := c.args["operator"].(string)
	if op == "" {
		op = "ilike"
	}
	limit := 100
	if v, ok := c.args["limit"]; ok {
		if n, ok := asInt(v); ok {
			limit = n
		} else if v == nil || v == false {
			limit = 0
		}
	}
	dom := c.args["domain"]
	if srv.opts.Version < 19 {
		dom = c.args["args"]
	}
	var domain []any
	if list, ok := dom.([]any); ok {
		domain = slices.Clone(list)
	}
	// _name_search skips the name condition for an empty ilike (everything).
	if !(name == "" && op == "ilike") {
		domain = append(domain, []any{"display_name", op, name})
	}
	sc := c.sub("search", map[string]any{"domain": domain, "limit": limit})
	recs, err := srv.search(m, t, sc)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(recs))
	for i, r := range recs {
		out[i] = []any{r.id, s.displayName(m, r)}
	}
	return out, nil
}

// defaultGet is BaseModel.default_get: the defaults of the asked fields
// (fields_list up to 18, fields from 19), with default_<field> context keys
// taking precedence. Defaults are returned in read() form.
func (srv *Server) defaultGet(c *call, m *modelDef) map[string]any {
	raw := c.args["fields_list"]
	if srv.opts.Version >= 19 {
		raw = c.args["fields"]
	}
	names, _ := raw.([]any)
	out := map[string]any{}
	for _, x := range names {
		name, _ := x.(string)
		f, ok := m.fields[name]
		if !ok {
			continue
		}
		if v, ok := c.ctx["default_"+name]; ok {
			out[name] = v
			continue
		}
		if f.def == nil {
			continue
		}
		if f.typ == tMany2one {
			out[name] = f.def // default_get returns ids, not pairs
			continue
		}
		out[name] = f.def
	}
	switch m.name {
	case "res.partner", "helpdesk.ticket", "ir.attachment":
		if f, ok := m.fields["company_id"]; ok && slices.Contains(names, any("company_id")) && m.name != "res.partner" {
			out[f.name] = 1 // default=lambda self: self.env.company
		}
	}
	return out
}

// copyRecords is BaseModel.copy: copy_data (stored fields except copy=False
// ones, one2many and the magic columns) overridden by default. 16/17
// decorate it @api.returns('self', lambda value: value.id) and ensure_one;
// 18 made copy work on several records and return them all.
func (srv *Server) copyRecords(c *call, m *modelDef, t *table) (any, error) {
	s := srv.store
	if len(c.ids) != 1 && srv.opts.Version < 18 {
		return nil, errValue("Expected singleton: %s(%s)", m.name, pyTuple(c.ids))
	}
	recs, err := s.lookup(m, t, c.ids)
	if err != nil {
		return nil, err
	}
	def, _ := c.args["default"].(map[string]any)
	var out []any
	for _, r := range recs {
		vals := map[string]any{}
		for _, name := range m.fieldNames {
			f := m.fields[name]
			switch {
			case name == "id" || name == "display_name" || name == "create_date" || name == "write_date" || name == "create_uid" || name == "write_uid":
				continue
			case f.computed || f.typ == tOne2many || f.readonly:
				// Readonly fields here are the computed/sequence ones, which
				// Odoo declares copy=False or recomputes on create.
				continue
			case f.mirror != "":
				continue
			}
			v := r.vals[f.pos]
			if v == nil {
				continue
			}
			if ids, ok := v.([]int); ok {
				v = []any{[]any{6, 0, intsToAny(ids)}}
			}
			vals[name] = v
		}
		if m.name == "res.partner" {
			// base/models/res_partner.py copy: _('%s (copy)', self.name).
			name, _ := r.get(m, "name").(string)
			vals["name"] = name + " (copy)"
		}
		maps.Copy(vals, def)
		nr, err := srv.insert(m, t, vals, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, nr.id)
	}
	if srv.opts.Version < 18 || len(out) == 1 {
		return out[0], nil
	}
	return out, nil
}

// webSearchRead is web_search_read from the web module: 16 takes a field
// list (search_read underneath), 17+ a specification (web_read).
func (srv *Server) webSearchRead(c *call, m *modelDef, t *table) (any, error) {
	recs, err := srv.search(m, t, c)
	if err != nil {
		return nil, err
	}
	length := len(recs)
	limit, _ := c.intArg("limit")
	offset, _ := c.intArg("offset")
	if limit > 0 && (len(recs) == limit || offset > 0) {
		// The web client's count: search_count of the whole domain.
		all, err := srv.search(m, t, c.sub("search", map[string]any{"domain": c.args["domain"]}))
		if err != nil {
			return nil, err
		}
		length = len(all)
		if cl, ok := asInt(c.args["count_limit"]); ok && cl > 0 && length > cl {
			length = cl
		}
	}
	var records any
	if srv.opts.Version < 17 {
		fc := &call{args: map[string]any{"fields": c.args["fields"]}}
		fields, err := fc.fieldsArg(m)
		if err != nil {
			return nil, err
		}
		list := make([]any, len(recs))
		for i, r := range recs {
			list[i] = readRecord(srv.store, m, r, fields)
		}
		records = list
	} else {
		spec, _ := c.args["specification"].(map[string]any)
		if records, err = srv.webRead(m, recs, spec); err != nil {
			return nil, err
		}
	}
	return map[string]any{"length": length, "records": records}, nil
}

// webRead is web_read (17+, addons/web/models/models.py): read(load=None)
// of the specification's fields, with relational fields expanded where
// the specification names sub-fields: many2one → {"id", ...}, x2many →
// list of such records.
func (srv *Server) webRead(m *modelDef, recs []*record, spec map[string]any) ([]any, error) {
	s := srv.store
	names := slices.Sorted(maps.Keys(spec))
	for _, n := range names {
		if _, ok := m.fields[n]; !ok {
			return nil, errValue("Invalid field %s on model %s", pyRepr(n), pyRepr(m.name))
		}
	}
	out := make([]any, len(recs))
	for i, r := range recs {
		rec := newRecordOut(len(names) + 1)
		rec.add("id", r.id)
		for _, n := range names {
			if n == "id" {
				continue
			}
			f := m.fields[n]
			sub, _ := spec[n].(map[string]any)
			subFields, expand := sub["fields"].(map[string]any)
			switch f.typ {
			case tMany2one:
				id, _ := s.value(m, f, r).(int)
				cm, ct, _ := s.model(f.relation)
				target := ct.byID[id]
				if id == 0 || target == nil {
					rec.add(n, false)
					continue
				}
				if !expand {
					rec.add(n, id)
					continue
				}
				sub, err := srv.webRead(cm, []*record{target}, subFields)
				if err != nil {
					return nil, err
				}
				one := sub[0].(*recordOut)
				if _, ok := subFields["display_name"]; ok {
					one.set("display_name", s.displayName(cm, target))
				}
				rec.add(n, one)
			case tOne2many, tMany2many:
				ids, _ := s.convertOut(m, f, r).([]any)
				if !expand {
					rec.add(n, ids)
					continue
				}
				cm, ct, _ := s.model(f.relation)
				var targets []*record
				for _, x := range ids {
					if tr := ct.byID[x.(int)]; tr != nil {
						targets = append(targets, tr)
					}
				}
				// x2many sub-specifications may order and limit the lines
				// ("context" only changes language-dependent values here).
				if order, _ := sub["order"].(string); order != "" {
					keys, err := parseOrder(cm, order)
					if err != nil {
						return nil, err
					}
					slices.SortStableFunc(targets, func(a, b *record) int { return compareRecords(cm, keys, a, b) })
				}
				if limit, ok := asInt(sub["limit"]); ok && limit >= 0 && limit < len(targets) {
					targets = targets[:limit]
				}
				sub, err := srv.webRead(cm, targets, subFields)
				if err != nil {
					return nil, err
				}
				rec.add(n, sub)
			default:
				rec.add(n, s.convertOut(m, f, r))
			}
		}
		out[i] = rec
	}
	return out, nil
}

// messagePost is mail.thread.message_post as helpdesk tickets inherit it:
// a mail.message on the record, subtype mail.mt_note unless told
// otherwise, plain-text bodies escaped (they are not Markup), and the new
// message's id returned (@api.returns('mail.message', lambda value: value.id)).
func (srv *Server) messagePost(c *call, m *modelDef, t *table) (any, error) {
	s := srv.store
	if _, ok := m.fields["message_ids"]; !ok {
		return nil, errNoMethod(srv.opts.Version, m.name, c.method)
	}
	if len(c.ids) != 1 {
		return nil, errValue("Expected singleton: %s(%s)", m.name, pyTuple(c.ids))
	}
	if _, err := s.lookup(m, t, c.ids); err != nil {
		return nil, err
	}
	mm, mt, _ := s.model("mail.message")
	body, _ := c.args["body"].(string)
	if !truthy(c.args["body_is_html"]) || srv.opts.Version < 17 {
		// A plain str body is escaped; body_is_html (17+) passes HTML as is.
		body = htmlpkg.EscapeString(body)
	}
	subtype := 2 // mail.mt_note
	switch x, _ := c.args["subtype_xmlid"].(string); x {
	case "mail.mt_comment":
		subtype = 1
	case "mail.mt_note", "":
	default:
		return nil, errValue("External ID not found in the system: %s", x)
	}
	if id, ok := asInt(c.args["subtype_id"]); ok && id != 0 {
		subtype = id
	}
	msgType, _ := c.args["message_type"].(string)
	if msgType == "" {
		msgType = "notification"
	}
	vals := map[string]any{
		"model": m.name, "res_id": c.ids[0], "body": body,
		"message_type": msgType, "subtype_id": subtype, "author_id": 3,
		"is_internal": subtype == 2,
	}
	if v, ok := c.args["subject"].(string); ok {
		vals["subject"] = v
	}
	if v, ok := c.args["author_id"]; ok && truthy(v) {
		vals["author_id"] = v
	}
	if v, ok := c.args["email_from"].(string); ok {
		vals["email_from"] = v
	}
	if v, ok := c.args["partner_ids"].([]any); ok {
		vals["partner_ids"] = []any{[]any{6, 0, v}}
	}
	if v, ok := c.args["parent_id"]; ok && truthy(v) {
		vals["parent_id"] = v
	}
	// Further keywords are mail.message values (**kwargs).
	known := methods["message_post"].params
	for k, v := range c.args {
		if !slices.Contains(known, k) {
			if _, ok := mm.fields[k]; !ok {
				return nil, errValue("Invalid field %s on model %s", pyRepr(k), pyRepr(mm.name))
			}
			vals[k] = v
		}
	}
	// attachments are (name, content) pairs to create; attachment_ids
	// are existing attachments, re-attached to the record
	// (_process_attachments_for_post).
	am, at, _ := s.model("ir.attachment")
	var attIDs []any
	if list, ok := c.args["attachments"].([]any); ok {
		for _, item := range list {
			pair, ok := item.([]any)
			if !ok || len(pair) < 2 {
				return nil, errValue("attachments must be (name, content) pairs, got %s", shortRepr(item))
			}
			name, _ := pair[0].(string)
			content := fmt.Sprint(pair[1])
			if str, ok := pair[1].(string); ok {
				content = str
			}
			a, err := srv.insert(am, at, map[string]any{"name": name, "datas": base64.StdEncoding.EncodeToString([]byte(content)), "res_model": m.name, "res_id": c.ids[0]}, 0)
			if err != nil {
				return nil, err
			}
			attIDs = append(attIDs, a.id)
		}
	}
	for _, id := range idList(c.args["attachment_ids"]) {
		a := at.byID[id]
		if a == nil {
			return nil, errMissing(am.name, []int{id})
		}
		if err := srv.writeRecord(am, a, map[string]any{"res_model": m.name, "res_id": c.ids[0]}); err != nil {
			return nil, err
		}
		attIDs = append(attIDs, id)
	}
	if len(attIDs) > 0 {
		vals["attachment_ids"] = []any{[]any{6, 0, attIDs}}
	}
	r, err := srv.insert(mm, mt, vals, 0)
	if err != nil {
		return nil, err
	}
	return r.id, nil
}

// attachmentComputes derives file_size and mimetype from the content and
// name, as ir.attachment's _compute_* do (guess from the name when the
// content says nothing more specific).
func attachmentComputes(m *modelDef, r *record) {
	datas, _ := r.get(m, "datas").(string)
	size := 0
	if raw, err := base64.StdEncoding.DecodeString(datas); err == nil {
		size = len(raw)
	}
	r.vals[m.fields["file_size"].pos] = size
	mt := "application/octet-stream"
	if name, _ := r.get(m, "name").(string); name != "" {
		if x := mime.TypeByExtension(path.Ext(name)); x != "" {
			mt, _, _ = strings.Cut(x, ";")
		}
	}
	if typ, _ := r.get(m, "type").(string); typ == "url" {
		mt = "application/octet-stream"
	}
	r.vals[m.fields["mimetype"].pos] = mt
}

// monthNames are babel's en_US month names, which read_group labels use.
var monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}

// truncateDate is the group a date falls in. Weeks start on Sunday, the
// en_US week start, from 17 (19 test_formatted_read_group.py groups
// Saturday 2022-01-29 in the week of Sunday 2022-01-23); 16 truncated with
// PostgreSQL's ISO date_trunc('week'), on Monday.
func (srv *Server) truncateDate(t time.Time, gran string) (time.Time, time.Time) {
	y, mo, d := t.Date()
	switch gran {
	case "day":
		s := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
		return s, s.AddDate(0, 0, 1)
	case "week":
		s := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
		if srv.opts.Version >= 17 {
			s = s.AddDate(0, 0, -int(s.Weekday()))
		} else {
			s = s.AddDate(0, 0, -((int(s.Weekday()) + 6) % 7))
		}
		return s, s.AddDate(0, 0, 7)
	case "quarter":
		q := (int(mo) - 1) / 3
		s := time.Date(y, time.Month(q*3+1), 1, 0, 0, 0, 0, time.UTC)
		return s, s.AddDate(0, 3, 0)
	case "year":
		s := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		return s, s.AddDate(1, 0, 0)
	}
	s := time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC)
	return s, s.AddDate(0, 1, 0)
}

// dateLabel formats a group's start as the web module's
// DISPLAY_DATE_FORMATS do in en_US: 'dd MMM yyyy', "'W'w YYYY",
// 'MMMM yyyy', 'QQQ yyyy', 'yyyy'.
func (srv *Server) dateLabel(t time.Time, gran string) string {
	switch gran {
	case "day":
		return fmt.Sprintf("%02d %s %d", t.Day(), monthNames[t.Month()-1][:3], t.Year())
	case "week":
		y, w := usWeek(t)
		return fmt.Sprintf("W%d %d", w, y)
	case "quarter":
		return fmt.Sprintf("Q%d %d", (int(t.Month())-1)/3+1, t.Year())
	case "year":
		return fmt.Sprint(t.Year())
	}
	return fmt.Sprintf("%s %d", monthNames[t.Month()-1], t.Year())
}

// usWeek is babel's week of year and week-year in en_US: weeks start on
// Sunday and week 1 is the one holding January 1st.
func usWeek(t time.Time) (year, week int) {
	sunday := t.AddDate(0, 0, -int(t.Weekday()))
	if next := sunday.AddDate(0, 0, 6); next.Year() != sunday.Year() {
		return next.Year(), 1
	}
	jan1 := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	return t.Year(), (t.YearDay()-1+int(jan1.Weekday()))/7 + 1
}

// normalizeDomain is expression.normalize_domain: explicit '&' between
// implicitly and-ed terms.
func normalizeDomain(domain []any) []any {
	if len(domain) == 0 {
		return []any{[]any{1, "=", 1}}
	}
	var out []any
	expected := 1
	for _, tok := range domain {
		if expected == 0 {
			out = append([]any{"&"}, out...)
			expected = 1
		}
		switch tok {
		case "&", "|":
			expected++
		case "!":
		default:
			expected--
		}
		out = append(out, tok)
	}
	return out
}

// andDomains is expression.AND of two domains.
func andDomains(a, b []any) []any {
	switch {
	case len(a) == 0:
		return normalizeDomain(b)
	case len(b) == 0:
		return normalizeDomain(a)
	}
	return append(append([]any{"&"}, normalizeDomain(a)...), normalizeDomain(b)...)
}
