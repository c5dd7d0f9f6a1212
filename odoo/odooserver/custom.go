package odooserver

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var modelNamePattern = regexp.MustCompile(`^[a-z0-9_.]+$`)

// Custom models and fields, as the External API documentation's
// "Inspection and introspection" section creates them: an ir.model record
// with state 'manual' and a name starting with x_ makes a model with only
// the magic fields; ir.model.fields records with state 'manual' and names
// starting with x_ add fields to it (base/models/ir_model.py). Base models
// and fields (state 'base') cannot be changed over RPC here.

// customTypes are the ttypes a custom field may take here.
var customTypes = map[string]bool{tChar: true, tText: true, tHTML: true, tInteger: true, tFloat: true,
	tBoolean: true, tDate: true, tDatetime: true, tMany2one: true, tBinary: true}

// validateCreate checks a record about to be created; the record is not in
// its table yet.
func (srv *Server) validateCreate(m *modelDef, r *record) error {
	s := srv.store
	switch m.name {
	case "ir.model":
		if r.get(m, "state") != "manual" {
			if !srv.building {
				return errUser("The reference server only creates custom models (state 'manual')")
			}
			return nil
		}
		name, _ := r.get(m, "model").(string)
		if !strings.HasPrefix(name, "x_") {
			// ir.model _check_model_name
			return errValidation("The model name must start with 'x_'.")
		}
		if !modelNamePattern.MatchString(name) {
			return errValidation("The model name can only contain lowercase characters, digits, underscores and dots.")
		}
		if _, exists := s.models[name]; exists {
			return errValidation("The model %s already exists", name)
		}
	case "ir.model.fields":
		if r.get(m, "state") != "manual" {
			if !srv.building {
				return errUser("The reference server only creates custom fields (state 'manual')")
			}
			return nil
		}
		name, _ := r.get(m, "name").(string)
		if !strings.HasPrefix(name, "x_") {
			// ir.model.fields _check_name
			return errValidation("Custom fields must have a name that starts with 'x_'!")
		}
		mid, _ := r.get(m, "model_id").(int)
		im, it, _ := s.model("ir.model")
		target, _ := it.byID[mid].get(im, "model").(string)
		tm, ok := s.models[target]
		if !ok {
			return errValidation("Model %s does not exist", target)
		}
		if tm.has(name) {
			return errValidation("Field names must be unique per model.")
		}
		typ, _ := r.get(m, "ttype").(string)
		if !customTypes[typ] {
			return errUser("The reference server does not create custom %s fields", typ)
		}
		if typ == tMany2one {
			rel, _ := r.get(m, "relation").(string)
			if _, ok := s.models[rel]; !ok {
				return errValidation("Model %s does not exist", rel)
			}
		}
		r.vals[m.fields["model"].pos] = target
		r.vals[m.fields["complete_name"].pos] = target + "." + name
		if isNull(r.get(m, "field_description")) {
			r.vals[m.fields["field_description"].pos] = name
		}
	}
	return nil
}

// afterCreate applies a created custom model or field to the schema.
func (srv *Server) afterCreate(m *modelDef, r *record) {
	s := srv.store
	switch m.name {
	case "ir.model":
		if r.get(m, "state") != "manual" {
			return
		}
		name, _ := r.get(m, "model").(string)
		label, _ := r.get(m, "name").(string)
		cm := newModel(name, label, "id")
		cm.recName = "x_name" // manual models name their records by x_name
		if srv.opts.Version < 17 {
			addLastUpdate(cm)
		}
		s.models[name] = cm
		s.tables[name] = &table{def: cm, byID: map[int]*record{}, nextID: 1}
		srv.reflectFields(cm, r.id)
	case "ir.model.fields":
		if r.get(m, "state") != "manual" {
			return
		}
		target, _ := r.get(m, "model").(string)
		tm := s.models[target]
		name, _ := r.get(m, "name").(string)
		label, _ := r.get(m, "field_description").(string)
		f := &fieldDef{name: name, typ: r.get(m, "ttype").(string), label: label}
		f.required, _ = r.get(m, "required").(bool)
		f.readonly, _ = r.get(m, "readonly").(bool)
		if h, _ := r.get(m, "help").(string); h != "" {
			f.help = h
		}
		if f.typ == tMany2one {
			f.relation, _ = r.get(m, "relation").(string)
		}
		tm.add(f)
		// Existing records gain the column, empty.
		for _, rec := range s.tables[target].byID {
			rec.vals = append(rec.vals, nil)
		}
	}
}

// reflectFields adds the ir.model.fields rows (state 'base') of a model's
// fields, as the registry does when it sets a model up.
func (srv *Server) reflectFields(cm *modelDef, modelID int) {
	s := srv.store
	fm, ft, _ := s.model("ir.model.fields")
	building := srv.building
	srv.building = true
	defer func() { srv.building = building }()
	for _, fname := range cm.fieldNames {
		f := cm.fields[fname]
		vals := map[string]any{"name": f.name, "complete_name": cm.name + "." + f.name, "model": cm.name, "model_id": modelID,
			"field_description": f.label, "ttype": f.typ, "required": f.required, "readonly": f.readonly, "store": f.stored(), "state": "base"}
		if f.help != "" {
			vals["help"] = f.help
		}
		if f.relation != "" {
			vals["relation"] = f.relation
		}
		if f.inverse != "" {
			vals["relation_field"] = f.inverse
		}
		if _, err := srv.insert(fm, ft, vals, 0); err != nil {
			panic(fmt.Sprintf("odooserver: reflecting %s.%s: %v", cm.name, f.name, err))
		}
	}
}

// checkSchemaChange refuses writes and unlinks of base models and fields;
// unlinking a custom model or field removes it from the schema.
func (srv *Server) checkSchemaChange(m *modelDef, recs []*record, unlink bool) error {
	if m.name != "ir.model" && m.name != "ir.model.fields" {
		return nil
	}
	for _, r := range recs {
		if r.get(m, "state") != "manual" {
			return errUser("The reference server cannot change or delete base models and fields (%s)", m.name)
		}
		if !unlink || m.name == "ir.model.fields" {
			return errUser("The reference server cannot change custom models or delete custom fields once created (%s)", m.name)
		}
	}
	return nil
}

// dropCustom forgets a deleted custom model (its records with it).
func (srv *Server) dropCustom(m *modelDef, r *record) {
	if m.name != "ir.model" {
		return
	}
	s := srv.store
	name, _ := r.get(m, "model").(string)
	delete(s.models, name)
	delete(s.tables, name)
	// ir.model.fields.model_id is ondelete='cascade'.
	fm, ft, _ := s.model("ir.model.fields")
	for _, id := range slices.Clone(s.inverse["ir.model.fields.model_id"][r.id]) {
		srv.unlinkRecord(fm, ft, ft.byID[id])
	}
}
