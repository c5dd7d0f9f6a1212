package pull

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// maxExpand is Dataverse's limit of $expand options per query
// (webapi/query/join-tables.md: "up to 15").
const maxExpand = 15

// portableLookup is one lookup target whose records carry an alternate key:
// the pulled record gets "nav@odata.bind": "/set(key='v')" instead of the
// environment-specific GUID, so the file can be pushed into an environment
// whose GUIDs differ.
type portableLookup struct {
	column  *schema.Column
	nav     string // navigation property to expand and to bind
	set     string // target entity set
	keyCols []string
}

// portableLookups finds the lookups of t to rewrite: those selected (or all
// writable ones without --select) whose target table declares an alternate
// key.
func portableLookups(reg *schema.Registry, t *schema.Table, sel []string) ([]portableLookup, error) {
	var out []portableLookup
	for i := range t.Columns {
		c := &t.Columns[i]
		if !c.Type.IsLookup() || c.ReadOnly {
			continue
		}
		if len(sel) > 0 && !slices.Contains(sel, c.ValueProperty()) {
			continue
		}
		for _, target := range c.Targets {
			tt, ok := reg.Table(target)
			if !ok || len(tt.AlternateKeys) == 0 {
				continue
			}
			out = append(out, portableLookup{column: c, nav: c.NavigationProperty(target), set: tt.EntitySetName, keyCols: tt.AlternateKeys[0].Columns})
		}
	}
	if len(out) > maxExpand {
		return nil, fmt.Errorf("--portable would expand %d lookups; Dataverse allows %d per query: name the lookups you need in --select (as _x_value)", len(out), maxExpand)
	}
	return out, nil
}

// expands returns the $expand options that read the target keys.
func expands(ls []portableLookup) []dataverse.Expand {
	out := make([]dataverse.Expand, len(ls))
	for i, l := range ls {
		out[i] = dataverse.Expand{Property: l.nav, Select: l.keyCols}
	}
	return out
}

// makePortable rewrites rec in place: each expanded target with all its key
// values becomes a bind by alternate key and the GUID read value (with its
// annotations) is dropped; expanded objects are removed either way. A
// lookup whose target has no key values keeps its GUID.
func makePortable(rec dataverse.Record, ls []portableLookup) error {
	bound := map[string]bool{}
	for _, l := range ls {
		v, present := rec[l.nav]
		delete(rec, l.nav)
		obj, ok := v.(map[string]any)
		if !present || !ok || obj == nil {
			continue
		}
		key := dataverse.Key{Alternate: map[string]any{}}
		complete := true
		for _, col := range l.keyCols {
			kv, ok := obj[col]
			if !ok || kv == nil || kv == "" {
				complete = false
				break
			}
			key.Alternate[col] = kv
		}
		if !complete {
			continue
		}
		seg, err := dataverse.KeySegment(key)
		if err != nil {
			return err
		}
		rec[l.nav+"@odata.bind"] = "/" + l.set + "(" + seg + ")"
		bound[l.column.ValueProperty()] = true
	}
	for prop := range bound {
		for k := range rec {
			if k == prop || strings.HasPrefix(k, prop+"@") {
				delete(rec, k)
			}
		}
	}
	return nil
}
