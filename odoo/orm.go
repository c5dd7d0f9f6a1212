package odoo

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// Context is the ORM context sent with a call: "lang" translates labels and
// display names, "tz" affects server-side computations only (values stay
// UTC), "active_test": false includes archived records.
type Context map[string]any

// WithLang returns a copy with lang set.
func (c Context) WithLang(lang string) Context { return c.with("lang", lang) }

// WithTZ returns a copy with tz set.
func (c Context) WithTZ(tz string) Context { return c.with("tz", tz) }

// WithArchived returns a copy that includes archived records (active_test=false).
func (c Context) WithArchived() Context { return c.with("active_test", false) }

func (c Context) with(k string, v any) Context {
	out := make(Context, len(c)+1)
	for key, val := range c {
		out[key] = val
	}
	out[k] = v
	return out
}

// Query is a search_read.
type Query struct {
	Domain  Domain
	Fields  []string // nil reads every readable field (slow on wide models)
	Order   string   // e.g. "id asc"; empty uses the model's _order
	Offset  int
	Limit   int // 0 = no limit
	Context Context
}

func (q Query) args() (map[string]any, error) {
	if err := q.Domain.Err(); err != nil {
		return nil, err
	}
	args := map[string]any{"domain": q.Domain}
	if q.Fields != nil {
		args["fields"] = q.Fields
	}
	if q.Order != "" {
		args["order"] = q.Order
	}
	if q.Offset > 0 {
		args["offset"] = q.Offset
	}
	if q.Limit > 0 {
		args["limit"] = q.Limit
	}
	if len(q.Context) > 0 {
		args["context"] = q.Context
	}
	return args, nil
}

// SearchRead runs search_read and returns the records of one page.
func (c *Client) SearchRead(ctx context.Context, model string, q Query) ([]Record, error) {
	args, err := q.args()
	if err != nil {
		return nil, err
	}
	var out []Record
	return out, c.Call(ctx, model, "search_read", nil, args, &out, true)
}

// Search returns matching ids.
func (c *Client) Search(ctx context.Context, model string, q Query) ([]int, error) {
	args, err := q.args()
	if err != nil {
		return nil, err
	}
	delete(args, "fields")
	var out []int
	return out, c.Call(ctx, model, "search", nil, args, &out, true)
}

// SearchCount counts matching records.
func (c *Client) SearchCount(ctx context.Context, model string, d Domain, cx Context) (int, error) {
	if err := d.Err(); err != nil {
		return 0, err
	}
	args := map[string]any{"domain": d}
	if len(cx) > 0 {
		args["context"] = cx
	}
	var n int
	return n, c.Call(ctx, model, "search_count", nil, args, &n, true)
}

// Read reads records by id; Odoo raises MissingError for absent ids.
func (c *Client) Read(ctx context.Context, model string, ids []int, fields []string, cx Context) ([]Record, error) {
	args := map[string]any{}
	if fields != nil {
		args["fields"] = fields
	}
	if len(cx) > 0 {
		args["context"] = cx
	}
	var out []Record
	return out, c.Call(ctx, model, "read", ids, args, &out, true)
}

// Field describes one field as fields_get reports it.
type Field struct {
	Name      string
	Type      string // char, text, html, integer, float, boolean, date, datetime, selection, many2one, one2many, many2many, binary, monetary…
	String    string // label
	Relation  string // comodel of relational fields
	Required  bool
	Readonly  bool
	Store     bool
	Selection []SelectionOption
}

// SelectionOption is one (key, label) pair of a selection field.
type SelectionOption struct{ Key, Label string }

// FieldsGet describes a model's fields.
func (c *Client) FieldsGet(ctx context.Context, model string) (map[string]Field, error) {
	var raw map[string]struct {
		Type      string          `json:"type"`
		String    string          `json:"string"`
		Relation  string          `json:"relation"`
		Required  bool            `json:"required"`
		Readonly  bool            `json:"readonly"`
		Store     bool            `json:"store"`
		Selection json.RawMessage `json:"selection"`
	}
	args := map[string]any{"attributes": []string{"type", "string", "relation", "required", "readonly", "store", "selection"}}
	if err := c.Call(ctx, model, "fields_get", nil, args, &raw, true); err != nil {
		return nil, err
	}
	out := make(map[string]Field, len(raw))
	for name, f := range raw {
		field := Field{Name: name, Type: f.Type, String: f.String, Relation: f.Relation, Required: f.Required, Readonly: f.Readonly, Store: f.Store}
		var pairs [][]any
		if len(f.Selection) > 0 && json.Unmarshal(f.Selection, &pairs) == nil {
			for _, p := range pairs {
				if len(p) == 2 {
					// Selection keys are strings even when they look numeric
					// (priority '0'..'3').
					field.Selection = append(field.Selection, SelectionOption{Key: fmt.Sprint(p[0]), Label: fmt.Sprint(p[1])})
				}
			}
		}
		out[name] = field
	}
	return out, nil
}

// Create creates one record and returns its id.
func (c *Client) Create(ctx context.Context, model string, vals map[string]any) (int, error) {
	var id int
	return id, c.Call(ctx, model, "create", nil, map[string]any{"vals_list": vals}, &id, false)
}

// Write updates records.
func (c *Client) Write(ctx context.Context, model string, ids []int, vals map[string]any) error {
	return c.Call(ctx, model, "write", ids, map[string]any{"vals": vals}, nil, false)
}

// InstalledModels reports which of the given models exist on the server,
// from ir.model, the way to tell apps and flavours apart without provoking
// errors.
func (c *Client) InstalledModels(ctx context.Context, models ...string) (map[string]bool, error) {
	recs, err := c.SearchRead(ctx, "ir.model", Query{Domain: Cond("model", In, models), Fields: []string{"model"}})
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(models))
	for _, m := range models {
		out[m] = false
	}
	for _, r := range recs {
		name, err := r.String("model")
		if err != nil {
			return nil, err
		}
		out[name] = true
	}
	return out, nil
}

// ExistingFields filters want down to the fields model has, preserving
// order, so one field list can serve several Odoo versions. Missing fields
// are returned separately so callers can report them.
func (c *Client) ExistingFields(ctx context.Context, model string, want []string) (have, missing []string, err error) {
	fields, err := c.FieldsGet(ctx, model)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range want {
		if _, ok := fields[f]; ok {
			have = append(have, f)
		} else {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)
	return have, missing, nil
}
