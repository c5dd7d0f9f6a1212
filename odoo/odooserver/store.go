package odooserver

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Storage forms of field values: char/text/html/selection/date/datetime are
// string, integer and many2one are int (0 = empty many2one), float is
// float64, boolean is bool, many2many is []int, and nil is "not set". One2many
// values are never stored; they are derived from the inverse many2one.
type record struct {
	id   int
	vals []any
}

func (r *record) get(m *modelDef, field string) any {
	f, ok := m.fields[field]
	if !ok {
		return nil
	}
	return r.vals[f.pos]
}

type table struct {
	def    *modelDef
	byID   map[int]*record
	ids    []int // ascending; ids only grow, so creation appends
	nextID int
}

// store is the in-memory database. It is not safe for concurrent use; the
// Server serialises access with its lock.
type store struct {
	models map[string]*modelDef
	tables map[string]*table
	// inverse indexes back one2many fields: "comodel.field" → parent id →
	// child ids. mail.message threads are keyed by "mail.message.res_id:<model>".
	inverse   map[string]map[int][]int
	sequences map[string]int
	now       func() time.Time
}

const odooDatetime = "2006-01-02 15:04:05"

func newStore(models map[string]*modelDef, now func() time.Time) *store {
	s := &store{models: models, tables: map[string]*table{}, inverse: map[string]map[int][]int{}, sequences: map[string]int{}, now: now}
	for name, m := range models {
		s.tables[name] = &table{def: m, byID: map[int]*record{}, nextID: 1}
		for _, f := range m.fields {
			if f.typ == tOne2many {
				s.inverse[s.inverseKey(m.name, f)] = map[int][]int{}
			}
		}
	}
	return s
}

func (s *store) inverseKey(owner string, f *fieldDef) string {
	if f.relation == "mail.message" && f.inverse == "res_id" {
		return "mail.message.res_id:" + owner
	}
	return f.relation + "." + f.inverse
}

// indexKeys lists the inverse indexes a record of m contributes to, with the
// parent id it points at.
func (s *store) indexKeys(m *modelDef, r *record) map[string]int {
	keys := map[string]int{}
	if m.name == "mail.message" {
		model, _ := r.get(m, "model").(string)
		resID, _ := r.get(m, "res_id").(int)
		key := "mail.message.res_id:" + model
		if _, ok := s.inverse[key]; ok && resID != 0 {
			keys[key] = resID
		}
		return keys
	}
	for _, f := range m.fields {
		if f.typ != tMany2one {
			continue
		}
		key := m.name + "." + f.name
		if _, ok := s.inverse[key]; ok {
			if id, _ := r.vals[f.pos].(int); id != 0 {
				keys[key] = id
			}
		}
	}
	return keys
}

func (s *store) index(m *modelDef, r *record) {
	for key, parent := range s.indexKeys(m, r) {
		idx := s.inverse[key]
		ids := idx[parent]
		i, found := slices.BinarySearch(ids, r.id)
		if !found {
			idx[parent] = slices.Insert(ids, i, r.id)
		}
	}
}

func (s *store) unindex(m *modelDef, r *record) {
	for key, parent := range s.indexKeys(m, r) {
		idx := s.inverse[key]
		ids := idx[parent]
		if i, found := slices.BinarySearch(ids, r.id); found {
			idx[parent] = slices.Delete(ids, i, i+1)
		}
	}
}

func (s *store) model(name string) (*modelDef, *table, error) {
	t, ok := s.tables[name]
	if !ok {
		return nil, nil, errNoModel(name)
	}
	return t.def, t, nil
}

func (s *store) nowString() string { return s.now().UTC().Format(odooDatetime) }

func (s *store) nextSequence(code string) int {
	s.sequences[code]++
	return s.sequences[code]
}

// displayName is what Odoo shows for a record: display_name, which many2one
// values carry as their second element.
func (s *store) displayName(m *modelDef, r *record) string {
	if m.displayName != nil {
		return m.displayName(s, r)
	}
	f, ok := m.fields[m.recName]
	if !ok {
		return fmt.Sprintf("%s,%d", m.name, r.id)
	}
	switch v := r.vals[f.pos].(type) {
	case string:
		return v
	case int:
		if f.typ == tMany2one && v != 0 {
			cm, ct, _ := s.model(f.relation)
			if target := ct.byID[v]; target != nil {
				return s.displayName(cm, target)
			}
		}
	}
	return fmt.Sprintf("%s,%d", m.name, r.id)
}

// convertIn turns a wire value into its storage form, validating it the way
// the ORM's convert_to_cache does.
func (s *store) convertIn(m *modelDef, f *fieldDef, v any, current []int) (any, error) {
	if v == nil {
		v = false
	}
	switch f.typ {
	case tChar, tText, tHTML, tBinary:
		switch x := v.(type) {
		case bool:
			if !x {
				return nil, nil
			}
		case string:
			return x, nil
		case pyDatetime:
			return x.String(), nil
		case int, int64, float64:
			return fmt.Sprint(x), nil
		}
	case tSelection:
		switch x := v.(type) {
		case bool:
			if !x {
				return nil, nil
			}
		case string:
			for _, kv := range f.selection {
				if kv[0] == x {
					return x, nil
				}
			}
			return nil, errValue("Wrong value for %s.%s: '%s'", m.name, f.name, x)
		}
	case tDate, tDatetime:
		switch x := v.(type) {
		case bool:
			if !x {
				return nil, nil
			}
		case string, pyDatetime:
			return toStoredDate(f, x)
		}
	case tInteger:
		switch x := v.(type) {
		case bool:
			if !x {
				return 0, nil
			}
			return 1, nil
		case int:
			return x, nil
		case int64:
			return int(x), nil
		case float64:
			return int(x), nil
		case string:
			if n, err := strconv.Atoi(x); err == nil {
				return n, nil
			}
		}
	case tFloat:
		switch x := v.(type) {
		case bool:
			if !x {
				return 0.0, nil
			}
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		case string:
			if n, err := strconv.ParseFloat(x, 64); err == nil {
				return n, nil
			}
		}
	case tBoolean:
		return truthy(v), nil
	case tMany2one:
		id, ok := asInt(v)
		if b, isBool := v.(bool); isBool && !b {
			return 0, nil
		}
		if ok {
			if id == 0 {
				return 0, nil
			}
			if _, t, _ := s.model(f.relation); t.byID[id] == nil {
				return nil, errValidation("The operation cannot be completed: %s.%s refers to %s(%d,), which does not exist.", m.name, f.name, f.relation, id)
			}
			return id, nil
		}
	case tMany2many:
		if f.mirror != "" {
			return nil, errValue("The reference server stores %s.%s on %s.%s; write that side instead", m.name, f.name, f.relation, f.mirror)
		}
		ids, err := s.applyX2manyCommands(f, v, current)
		if err != nil {
			return nil, err
		}
		_, t, _ := s.model(f.relation)
		for _, id := range ids {
			if t.byID[id] == nil {
				return nil, errValidation("The operation cannot be completed: %s.%s refers to %s(%d,), which does not exist.", m.name, f.name, f.relation, id)
			}
		}
		return ids, nil
	case tOne2many:
		return nil, errValue("The reference server does not write one2many field %s.%s; write %s.%s on the %s records instead", m.name, f.name, f.relation, f.inverse, f.relation)
	}
	return nil, errValue("Wrong value for %s.%s: %s", m.name, f.name, pyRepr(v))
}

// applyX2manyCommands accepts a plain id list (17+) or the classic command
// triplets: (6,0,ids) replace, (4,id) link, (3,id) unlink, (5,) clear.
func (s *store) applyX2manyCommands(f *fieldDef, v any, current []int) ([]int, error) {
	if b, ok := v.(bool); ok && !b {
		return []int{}, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errValue("Wrong value for %s: %s", f.name, pyRepr(v))
	}
	out := slices.Clone(current)
	for _, item := range list {
		if id, ok := asInt(item); ok {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
			continue
		}
		cmd, ok := item.([]any)
		if !ok || len(cmd) == 0 {
			return nil, errValue("Wrong value for %s: %s", f.name, pyRepr(item))
		}
		code, _ := asInt(cmd[0])
		arg := func(i int) int {
			if i < len(cmd) {
				n, _ := asInt(cmd[i])
				return n
			}
			return 0
		}
		switch code {
		case 6:
			out = []int{}
			if len(cmd) == 3 {
				ids, ok := cmd[2].([]any)
				if !ok {
					return nil, errValue("Wrong value for %s: %s", f.name, pyRepr(item))
				}
				for _, x := range ids {
					if id, ok := asInt(x); ok && !slices.Contains(out, id) {
						out = append(out, id)
					}
				}
			}
		case 4:
			if id := arg(1); !slices.Contains(out, id) {
				out = append(out, id)
			}
		case 3:
			out = slices.DeleteFunc(out, func(id int) bool { return id == arg(1) })
		case 5:
			out = []int{}
		default:
			return nil, errValue("The reference server does not support x2many command %d on %s", code, f.name)
		}
	}
	slices.Sort(out)
	return out, nil
}

func normaliseDate(f *fieldDef, v string) (any, error) {
	layouts := []string{odooDatetime, "2006-01-02T15:04:05", "2006-01-02"}
	for _, l := range layouts {
		t, err := time.Parse(l, strings.TrimSpace(v))
		if err != nil {
			continue
		}
		if f.typ == tDate {
			return t.Format("2006-01-02"), nil
		}
		return t.Format(odooDatetime), nil
	}
	if f.typ == tDate {
		return nil, errValue("time data '%s' does not match format '%%Y-%%m-%%d'", v)
	}
	return nil, errValue("time data '%s' does not match format '%%Y-%%m-%%d %%H:%%M:%%S'", v)
}

// value is the storage-form value of f, computing the non-stored fields
// that the reference server models.
func (s *store) value(m *modelDef, f *fieldDef, r *record) any {
	if f.name == "__last_update" {
		if v := r.get(m, "write_date"); v != nil {
			return v
		}
		return r.get(m, "create_date")
	}
	if m.name == "helpdesk.sla.status" && f.name == "status" {
		deadline, _ := r.get(m, "deadline").(string)
		reached, _ := r.get(m, "reached_datetime").(string)
		return slaStatus(deadline, reached, s.now())
	}
	return r.vals[f.pos]
}

// convertOut renders a stored value the way Odoo's read() returns it:
// false for every empty value, [id, display_name] for many2one.
func (s *store) convertOut(m *modelDef, f *fieldDef, r *record) any {
	switch f.name {
	case "id":
		return r.id
	case "display_name":
		return s.displayName(m, r)
	}
	v := s.value(m, f, r)
	switch f.typ {
	case tInteger:
		if v == nil {
			return 0
		}
		return v
	case tFloat:
		if v == nil {
			return 0.0
		}
		return v
	case tBoolean:
		if v == nil {
			return false
		}
		return v
	case tMany2one:
		id, _ := v.(int)
		if id == 0 {
			return false
		}
		cm, ct, _ := s.model(f.relation)
		target := ct.byID[id]
		if target == nil {
			return false
		}
		return []any{id, s.displayName(cm, target)}
	case tMany2many:
		ids, _ := v.([]int)
		if f.mirror != "" {
			ids = s.mirrorIDs(f, r.id)
		}
		return intsToAny(s.ordered(f.relation, ids))
	case tOne2many:
		ids := s.inverse[s.inverseKey(m.name, f)][r.id]
		return intsToAny(s.ordered(f.relation, ids))
	}
	if v == nil {
		return false
	}
	return v
}

// ordered sorts related ids by the comodel's _order, as Odoo returns them.
func (s *store) ordered(model string, ids []int) []int {
	out := slices.Clone(ids)
	if len(out) < 2 {
		return out
	}
	m, t, _ := s.model(model)
	keys, _ := parseOrder(m, m.order)
	slices.SortFunc(out, func(a, b int) int { return compareRecords(m, keys, t.byID[a], t.byID[b]) })
	return out
}

// mirrorIDs reads the other side of a many2many relation table: the comodel
// records whose f.mirror field contains id.
func (s *store) mirrorIDs(f *fieldDef, id int) []int {
	cm, ct, _ := s.model(f.relation)
	mf := cm.fields[f.mirror]
	var out []int
	for _, cid := range ct.ids {
		if ids, _ := ct.byID[cid].vals[mf.pos].([]int); slices.Contains(ids, id) {
			out = append(out, cid)
		}
	}
	return out
}

func intsToAny(ids []int) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

func (s *store) lookup(m *modelDef, t *table, ids []int) ([]*record, error) {
	recs := make([]*record, 0, len(ids))
	var missing []int
	for _, id := range ids {
		r := t.byID[id]
		if r == nil {
			missing = append(missing, id)
			continue
		}
		recs = append(recs, r)
	}
	if len(missing) > 0 {
		return nil, errMissing(m.name, missing)
	}
	return recs, nil
}

type orderKey struct {
	f    *fieldDef
	desc bool
}

// parseOrder reads an ORDER BY spec such as "priority desc, id". Unknown
// fields are refused, as Odoo's _check_qorder/_order_to_sql does.
func parseOrder(m *modelDef, spec string) ([]orderKey, error) {
	var keys []orderKey
	for part := range strings.SplitSeq(spec, ",") {
		words := strings.Fields(part)
		if len(words) == 0 {
			continue
		}
		f, ok := m.fields[words[0]]
		if !ok || !f.stored() || f.typ == tMany2many {
			return nil, errValue("Invalid field %s on model %s", pyRepr(words[0]), pyRepr(m.name))
		}
		k := orderKey{f: f}
		if len(words) > 1 {
			switch strings.ToLower(words[1]) {
			case "desc":
				k.desc = true
			case "asc":
			default:
				return nil, errValue("Invalid order %s for model %s", pyRepr(spec), pyRepr(m.name))
			}
		}
		keys = append(keys, k)
	}
	// Odoo appends id to make the order total (_order_to_sql / _generate_order_by).
	if len(keys) == 0 || keys[len(keys)-1].f.name != "id" {
		keys = append(keys, orderKey{f: m.fields["id"]})
	}
	return keys, nil
}

func compareRecords(m *modelDef, keys []orderKey, a, b *record) int {
	for _, k := range keys {
		var c int
		if k.f.name == "id" {
			c = cmp.Compare(a.id, b.id)
		} else {
			c = compareStored(a.vals[k.f.pos], b.vals[k.f.pos])
		}
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// compareStored orders storage values; NULLs sort last ascending and first
// descending, PostgreSQL's default that Odoo relies on. Many2one values
// compare by id (Odoo would follow the comodel's _order).
func compareStored(a, b any) int {
	an, bn := isNull(a), isNull(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		return strings.Compare(x, y)
	case int:
		y, _ := b.(int)
		return cmp.Compare(x, y)
	case float64:
		y, _ := b.(float64)
		return cmp.Compare(x, y)
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	return 0
}

func isNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case int:
		return false
	case string:
		return false
	case []int:
		return len(x) == 0
	}
	return false
}

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	}
	return 0, false
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int:
		return x != 0
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// pyRepr prints a wire value roughly as Python's repr would, for messages.
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return "'" + strings.ReplaceAll(x, "'", `\'`) + "'"
	case pyDatetime:
		return x.repr()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
