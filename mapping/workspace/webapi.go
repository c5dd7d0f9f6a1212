package workspace

import (
	"fmt"
	"strings"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// Binder returns the @odata.bind path of a translated record another one
// refers to: by its unique-name alternate key (KeyBinder) or, where the
// environment has no such key, by the record's ID.
type Binder func(Ref) (string, error)

// Body returns the record as a Web API create/update body: plain columns
// as they are, lookups as <navigation property>@odata.bind pointing at the
// target by its unique-name alternate key, e.g.
//
//	"msdyn_agentscriptid@odata.bind": "/msdyn_productivityagentscripts(msdyn_uniquename='dvs_greeting')"
//
// (learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api
// and .../use-alternate-key-reference-record). The unique-name column is
// left out: the caller addresses the record by it in the upsert URL.
func (r *Record) Body(reg *schema.Registry) (map[string]any, error) {
	out, err := r.BodyWith(reg, KeyBinder(reg))
	delete(out, KeyColumn(r.Table))
	return out, err
}

// BodyWith returns every column of the record, the unique name included,
// with each lookup bound as bind says. It checks the record against the
// table definition: an unknown column, a lookup holding a plain value or
// a plain column holding a Ref is an error.
func (r *Record) BodyWith(reg *schema.Registry, bind Binder) (map[string]any, error) {
	tbl, ok := reg.Table(r.Table)
	if !ok {
		return nil, fmt.Errorf("workspace: table %s is not in the schema registry", r.Table)
	}
	out := make(map[string]any, len(r.Fields))
	for col, v := range r.Fields {
		c, ok := tbl.Column(col)
		if !ok {
			return nil, fmt.Errorf("workspace: %s has no column %s", r.Table, col)
		}
		ref, isRef := v.(Ref)
		if !isRef {
			if c.Type.IsLookup() {
				return nil, fmt.Errorf("workspace: %s.%s is a lookup but holds %T", r.Table, col, v)
			}
			out[col] = v
			continue
		}
		if !c.Type.IsLookup() {
			return nil, fmt.Errorf("workspace: %s.%s is not a lookup", r.Table, col)
		}
		path, err := bind(ref)
		if err != nil {
			return nil, fmt.Errorf("workspace: %s.%s: %w", r.Table, col, err)
		}
		out[c.NavigationProperty(ref.Table)+"@odata.bind"] = path
	}
	return out, nil
}

// KeyBinder binds by unique-name alternate key (BindPath).
func KeyBinder(reg *schema.Registry) Binder {
	return func(ref Ref) (string, error) { return BindPath(reg, ref) }
}

// BindPath is the relative URL of a translated record addressed by its
// unique-name alternate key. The key value is an OData string literal:
// single quotes are doubled.
func BindPath(reg *schema.Registry, ref Ref) (string, error) {
	tbl, ok := reg.Table(ref.Table)
	if !ok {
		return "", fmt.Errorf("workspace: table %s is not in the schema registry", ref.Table)
	}
	return fmt.Sprintf("/%s(%s='%s')", tbl.EntitySetName, KeyColumn(ref.Table), strings.ReplaceAll(ref.UniqueName, "'", "''")), nil
}
