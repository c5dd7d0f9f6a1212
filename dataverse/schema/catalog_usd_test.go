package schema

import "testing"

func TestUSDCatalog(t *testing.T) {
	reg := Default()
	tables, rels := usdTables()
	for _, tbl := range tables {
		if err := tbl.Validate(); err != nil {
			t.Error(err)
		}
		got, ok := reg.Table(tbl.LogicalName)
		if !ok {
			t.Errorf("%s not registered in Default()", tbl.LogicalName)
			continue
		}
		for _, sys := range []string{"createdon", "modifiedon", "versionnumber", "statecode", "statuscode", "ownerid"} {
			if _, ok := got.Column(sys); !ok {
				t.Errorf("%s: system column %s missing", tbl.LogicalName, sys)
			}
		}
		for _, c := range got.Columns {
			for _, target := range c.Targets {
				if _, ok := reg.Table(target); !ok {
					t.Errorf("%s.%s: lookup target %s is not in the catalogue", tbl.LogicalName, c.LogicalName, target)
				}
			}
			if c.Type.IsChoice() && len(c.Options) == 0 {
				t.Errorf("%s.%s: choice column without options", tbl.LogicalName, c.LogicalName)
			}
		}
		if _, ok := got.Column("msdyn_uniquename"); ok {
			if _, ok := got.AlternateKeyFor([]string{"msdyn_uniquename"}); !ok {
				t.Errorf("%s: no alternate key on msdyn_uniquename", tbl.LogicalName)
			}
		}
	}
	for _, rel := range rels {
		got, ok := reg.ManyToMany(rel.SchemaName)
		if !ok {
			t.Errorf("relationship %s not registered", rel.SchemaName)
			continue
		}
		for _, e := range []string{got.Entity1, got.Entity2} {
			if _, ok := reg.Table(e); !ok {
				t.Errorf("relationship %s: table %s not in the catalogue", rel.SchemaName, e)
			}
		}
	}
}

// The choice values migration writes must be the documented ones.
func TestUSDCatalogChoiceValues(t *testing.T) {
	reg := Default()
	check := func(table, column string, value int, label string) {
		t.Helper()
		tbl, _ := reg.Table(table)
		c, ok := tbl.Column(column)
		if !ok {
			t.Fatalf("%s.%s missing", table, column)
		}
		o, ok := c.OptionByValue(value)
		if !ok || o.Label != label {
			t.Errorf("%s.%s %d = %q, want %q", table, column, value, o.Label, label)
		}
	}
	check("uii_hostedapplication", "msdyusd_crmwindowhosttype", 803750003, "CRM Page")
	check("uii_hostedapplication", "msdyusd_crmwindowhosttype", 803750017, "Todo List")
	check("uii_hostedapplication", "msdyusd_crmwindowhosttype", 803750019, "KM Control")
	check("uii_hostedapplication", "msdyusd_crmwindowhosttype", 803750025, "Channel Integration Framework")
	check("msdyusd_windowroute", "msdyusd_action", 803750000, "Create Session")
	check("msdyn_sessiontemplate", "msdyn_panelstate", 162450002, "Docked")
	check("msdyn_applicationtabtemplate", "msdyn_pagetype", 509180006, "Third Party Website")
	check("msdyn_productivityagentscriptstep", "msdyn_actiontype", 192350001, "Macro")
	check("workflow", "category", 9000, "Web Client API Flow")
	check("workflow", "statuscode", 2, "Activated")
}
