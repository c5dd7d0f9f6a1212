package pull

import (
	"slices"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// annLookupTable is the annotation that names a lookup value's table
// ("_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "contact").
// Source: powerapps-docs developer/data-platform/webapi/query/select-columns.md
// ("Lookup property data"), requested with Prefer: odata.include-annotations.
const (
	lookupTableAnnotation = "Microsoft.Dynamics.CRM.lookuplogicalname"
	annLookupTable        = "@" + lookupTableAnnotation
)

// polymorphicLookups are the read names (_x_value) of the lookups among
// the pulled columns that can point to more than one table (customer,
// owner, regarding). Their GUID alone does not say which table it belongs
// to, so push could not bind it: a pull asks for the lookuplogicalname
// annotation of these, so that what pull writes, push takes back.
func polymorphicLookups(t *schema.Table, sel []string) []string {
	var out []string
	for i := range t.Columns {
		c := &t.Columns[i]
		if !c.Type.IsLookup() || len(c.Targets) < 2 {
			continue
		}
		if len(sel) > 0 && !slices.Contains(sel, c.ValueProperty()) && !slices.Contains(sel, c.LogicalName) {
			continue
		}
		if !slices.Contains(out, c.ValueProperty()) {
			out = append(out, c.ValueProperty())
		}
	}
	return out
}

// csvColumns is the CSV header: the selected columns, or every column of
// the table with lookups under their read names (_x_value). A lookup that
// can point to several tables is followed by its table-name annotation
// column, which push reads back.
func csvColumns(t *schema.Table, sel []string, tracked bool) []string {
	cols := []string{t.PrimaryID}
	if len(sel) > 0 {
		for _, c := range sel {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	} else {
		for _, c := range t.Columns {
			name := c.LogicalName
			if c.Type.IsLookup() {
				name = c.ValueProperty()
			}
			if !slices.Contains(cols, name) {
				cols = append(cols, name)
			}
		}
	}
	var withTables []string
	poly := polymorphicLookups(t, sel)
	for _, c := range cols {
		withTables = append(withTables, c)
		if slices.Contains(poly, c) {
			withTables = append(withTables, c+annLookupTable)
		}
	}
	cols = withTables
	if tracked {
		cols = append(cols, "reason")
	}
	return cols
}
