package odoo

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// GroupQuery is a server-side GROUP BY: read_group on Odoo 16 to 18 and
// its successor formatted_read_group on 19, where read_group is deprecated
// (19 odoo/orm/models.py; addons/web/models/models.py).
type GroupQuery struct {
	Domain Domain
	// GroupBy lists fields, with a granularity for dates
	// ("create_date:month"); several fields group by their combination.
	GroupBy []string
	// Aggregates lists "__count" and "field:func" specs, func one of sum,
	// avg, min, max, count, count_distinct, bool_and, bool_or, array_agg.
	Aggregates []string
	// Order sorts groups, e.g. "__count desc" or a groupby field.
	Order   string
	Offset  int
	Limit   int
	Context Context
}

// Group is one group: GroupBy specs and Aggregates specs to their raw
// values, keyed exactly as the query spelled them whatever the version.
// Many2one keys read with Record.Many2One; dates on 16–18 are labels
// ("March 2026"), on 19 [start, label] pairs.
type Group Record

var aggSpecPattern = regexp.MustCompile(`^\w+:\w+$`)

// ReadGroup groups records on the server and returns one Group per group.
func (c *Client) ReadGroup(ctx context.Context, model string, q GroupQuery) ([]Group, error) {
	if err := q.Domain.Err(); err != nil {
		return nil, err
	}
	for _, a := range q.Aggregates {
		if a != "__count" && !aggSpecPattern.MatchString(a) {
			return nil, fmt.Errorf("odoo: aggregate %q is not \"__count\" or \"field:function\"", a)
		}
	}
	args := map[string]any{"domain": q.Domain, "groupby": nonNil(q.GroupBy)}
	if q.Offset > 0 {
		args["offset"] = q.Offset
	}
	if q.Limit > 0 {
		args["limit"] = q.Limit
	}
	if len(q.Context) > 0 {
		args["context"] = q.Context
	}
	if c.version.Major >= 19 {
		args["aggregates"] = nonNil(q.Aggregates)
		if q.Order != "" {
			args["order"] = q.Order
		}
		var out []Group
		if err := c.Call(ctx, model, "formatted_read_group", nil, args, &out, true); err != nil {
			return nil, err
		}
		for _, g := range out {
			delete(g, "__extra_domain")
		}
		return out, nil
	}
	// read_group names each aggregate by an alias ("alias:func(field)"),
	// so two functions of one field do not collide; the aliases are
	// mapped back to the specs afterwards.
	fields := []string{}
	alias := map[string]string{}
	for i, a := range q.Aggregates {
		if a == "__count" {
			continue
		}
		field, fn, _ := strings.Cut(a, ":")
		name := fmt.Sprintf("dvsync_agg%d", i)
		alias[name] = a
		fields = append(fields, fmt.Sprintf("%s:%s(%s)", name, fn, field))
	}
	args["fields"] = fields
	args["lazy"] = false
	if q.Order != "" {
		args["orderby"] = q.Order
	}
	var raw []Group
	if err := c.Call(ctx, model, "read_group", nil, args, &raw, true); err != nil {
		return nil, err
	}
	out := make([]Group, len(raw))
	for i, g := range raw {
		ng := Group{}
		for k, v := range g {
			switch {
			case alias[k] != "":
				ng[alias[k]] = v
			case k == "__count":
				if contains(q.Aggregates, "__count") {
					ng[k] = v
				}
			case contains(q.GroupBy, k):
				ng[k] = v
			}
		}
		out[i] = ng
	}
	return out, nil
}

// Count is the group's "__count" (asked for in Aggregates).
func (g Group) Count() (int, error) { return Record(g).Int("__count") }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
