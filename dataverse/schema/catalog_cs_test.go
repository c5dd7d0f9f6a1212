package schema

import (
	"slices"
	"testing"
)

// csWantTables are the tables issue 2 requires the reference server to serve,
// with the entity set names Dataverse uses.
var csWantTables = map[string]string{
	"account": "accounts", "contact": "contacts", "incident": "incidents",
	"entitlement": "entitlements", "entitlementchannel": "entitlementchannels",
	"entitlementtemplate": "entitlementtemplates", "sla": "slas", "slaitem": "slaitems",
	"msdyn_slakpi": "msdyn_slakpis", "slakpiinstance": "slakpiinstances",
	"knowledgearticle": "knowledgearticles", "queue": "queues", "queueitem": "queueitems",
	"product": "products", "annotation": "annotations", "systemuser": "systemusers", "team": "teams",
	"businessunit": "businessunits", "calendar": "calendars", "languagelocale": "languagelocale",
	"subject": "subjects",
}

func TestCSCatalogTablesPresent(t *testing.T) {
	reg := Default()
	for logical, set := range csWantTables {
		tbl, ok := reg.Table(logical)
		if !ok {
			t.Errorf("table %s missing from Default()", logical)
			continue
		}
		if tbl.EntitySetName != set {
			t.Errorf("%s: entity set %q, want %q", logical, tbl.EntitySetName, set)
		}
		if bySet, ok := reg.TableBySet(set); !ok || bySet != tbl {
			t.Errorf("%s: TableBySet(%q) does not resolve to the table", logical, set)
		}
	}
}

func TestCSCatalogValidatesAndNamesAreUnique(t *testing.T) {
	tables, _ := csTables()
	logical := map[string]bool{}
	sets := map[string]bool{}
	for _, tbl := range tables {
		if err := tbl.Validate(); err != nil {
			t.Errorf("%v", err)
		}
		if logical[tbl.LogicalName] {
			t.Errorf("logical name %s declared twice", tbl.LogicalName)
		}
		if sets[tbl.EntitySetName] {
			t.Errorf("entity set %s declared twice", tbl.EntitySetName)
		}
		logical[tbl.LogicalName], sets[tbl.EntitySetName] = true, true
		if tbl.PrimaryName == "" {
			t.Errorf("%s: no primary name column", tbl.LogicalName)
		}
		if pk, _ := tbl.Column(tbl.PrimaryID); pk.Type != TypeUniqueidentifier {
			t.Errorf("%s: primary key %s is %s, want Uniqueidentifier", tbl.LogicalName, tbl.PrimaryID, pk.Type)
		}
	}
	if len(tables) != len(csWantTables) {
		t.Errorf("csTables returns %d tables, test expects %d", len(tables), len(csWantTables))
	}
}

// Each call must return fresh definitions so that callers can extend their
// registry without affecting others.
func TestCSCatalogReturnsFreshDefinitions(t *testing.T) {
	a, _ := csTables()
	b, _ := csTables()
	if a[0] == b[0] {
		t.Fatal("csTables returned the same *Table twice")
	}
	a[0].Columns[0].LogicalName = "changed"
	if b[0].Columns[0].LogicalName == "changed" {
		t.Fatal("csTables definitions share column slices")
	}
}

func TestCSCatalogLookupTargetsExist(t *testing.T) {
	reg := Default()
	tables, rels := csTables()
	for _, tbl := range tables {
		for _, c := range tbl.Columns {
			if !c.Type.IsLookup() {
				if len(c.Targets) > 0 {
					t.Errorf("%s.%s: %s column has targets", tbl.LogicalName, c.LogicalName, c.Type)
				}
				continue
			}
			for _, target := range c.Targets {
				if _, ok := reg.Table(target); !ok {
					t.Errorf("%s.%s: target %s is not in the catalogue", tbl.LogicalName, c.LogicalName, target)
				}
			}
			if c.Type == TypeCustomer && !slices.Equal(c.Targets, []string{"account", "contact"}) {
				t.Errorf("%s.%s: Customer targets %v, want [account contact]", tbl.LogicalName, c.LogicalName, c.Targets)
			}
			if c.Type == TypeOwner && !slices.Equal(c.Targets, []string{"systemuser", "team"}) && !slices.Equal(c.Targets, []string{"systemuser"}) {
				t.Errorf("%s.%s: Owner targets %v, want [systemuser team] or [systemuser]", tbl.LogicalName, c.LogicalName, c.Targets)
			}
		}
	}
	for _, rel := range rels {
		for _, e := range []string{rel.Entity1, rel.Entity2} {
			if _, ok := reg.Table(e); !ok {
				t.Errorf("N:N %s: entity %s is not in the catalogue", rel.SchemaName, e)
			}
		}
	}
}

func TestCSCatalogChoices(t *testing.T) {
	tables, _ := csTables()
	for _, tbl := range tables {
		state, hasState := tbl.Column("statecode")
		status, hasStatus := tbl.Column("statuscode")
		if hasState != hasStatus {
			t.Errorf("%s: statecode and statuscode must come together", tbl.LogicalName)
		}
		for _, c := range tbl.Columns {
			if c.Type.IsChoice() != (len(c.Options) > 0) {
				t.Errorf("%s.%s: type %s with %d options", tbl.LogicalName, c.LogicalName, c.Type, len(c.Options))
			}
			seen := map[int]bool{}
			for _, o := range c.Options {
				if seen[o.Value] {
					t.Errorf("%s.%s: option %d declared twice", tbl.LogicalName, c.LogicalName, o.Value)
				}
				seen[o.Value] = true
				if o.Label == "" {
					t.Errorf("%s.%s: option %d has no label", tbl.LogicalName, c.LogicalName, o.Value)
				}
			}
			if c.DefaultValue != nil && c.Type.IsChoice() {
				v, ok := c.DefaultValue.(int)
				if _, valid := c.OptionByValue(v); !ok || !valid {
					t.Errorf("%s.%s: default %v is not an option", tbl.LogicalName, c.LogicalName, c.DefaultValue)
				}
			}
		}
		if !hasState {
			continue
		}
		if state.Type != TypeState || status.Type != TypeStatus {
			t.Errorf("%s: statecode/statuscode types %s/%s", tbl.LogicalName, state.Type, status.Type)
		}
		for _, o := range status.Options {
			if o.State == nil {
				t.Errorf("%s: status %d has no state", tbl.LogicalName, o.Value)
				continue
			}
			if _, ok := state.OptionByValue(*o.State); !ok {
				t.Errorf("%s: status %d names unknown state %d", tbl.LogicalName, o.Value, *o.State)
			}
		}
		for _, o := range state.Options {
			if o.DefaultStatus == nil {
				t.Errorf("%s: state %d has no default status", tbl.LogicalName, o.Value)
				continue
			}
			st, ok := status.OptionByValue(*o.DefaultStatus)
			if !ok || st.State == nil || *st.State != o.Value {
				t.Errorf("%s: state %d default status %d does not belong to it", tbl.LogicalName, o.Value, *o.DefaultStatus)
			}
			if o.State != nil {
				t.Errorf("%s: state option %d carries a State", tbl.LogicalName, o.Value)
			}
		}
		if state.DefaultValue == nil {
			t.Errorf("%s: statecode has no default", tbl.LogicalName)
		}
	}
}

func TestCSCatalogSystemColumns(t *testing.T) {
	tables, _ := csTables()
	for _, tbl := range tables {
		for name, typ := range map[string]ColumnType{
			"createdon": TypeDateTime, "modifiedon": TypeDateTime, "versionnumber": TypeBigInt,
			"createdby": TypeLookup, "modifiedby": TypeLookup,
		} {
			c, ok := tbl.Column(name)
			if !ok || c.Type != typ || !c.ReadOnly {
				t.Errorf("%s: want read-only %s column %s", tbl.LogicalName, typ, name)
			}
		}
		if tbl.OwnershipType == "UserOwned" {
			owner, ok := tbl.Column("ownerid")
			if !ok || owner.Type != TypeOwner || owner.ReadOnly {
				t.Errorf("%s: user-owned table needs a writable Owner column ownerid", tbl.LogicalName)
			}
			if c, ok := tbl.Column("owningbusinessunit"); !ok || !c.ReadOnly {
				t.Errorf("%s: user-owned table needs read-only owningbusinessunit", tbl.LogicalName)
			}
		}
		for _, c := range tbl.Columns {
			if (c.Type == TypeString || c.Type == TypeMemo) && c.MaxLength <= 0 {
				t.Errorf("%s.%s: text column without MaxLength", tbl.LogicalName, c.LogicalName)
			}
			if c.ReadOnly && c.CreateOnly {
				t.Errorf("%s.%s: both read-only and create-only", tbl.LogicalName, c.LogicalName)
			}
			if c.ReadOnly && c.Required != RequiredNone && c.Required != "" {
				t.Errorf("%s.%s: read-only column cannot be required", tbl.LogicalName, c.LogicalName)
			}
		}
	}
}

func TestCSCatalogAlternateKeysUseSimpleColumns(t *testing.T) {
	tables, _ := csTables()
	want := map[string][]string{
		"incident": {"ticketnumber"}, "account": {"accountnumber"}, "contact": {"emailaddress1"},
		"queue": {"name"}, "sla": {"name"}, "entitlement": {"name"}, "product": {"productnumber"},
		"systemuser": {"internalemailaddress"},
	}
	for _, tbl := range tables {
		for _, k := range tbl.AlternateKeys {
			for _, col := range k.Columns {
				c, _ := tbl.Column(col)
				if c.Type.IsLookup() || c.Type == TypeMemo || c.ReadOnly {
					t.Errorf("%s key %s: column %s (%s) cannot be a key column", tbl.LogicalName, k.Name, col, c.Type)
				}
			}
		}
		if cols, ok := want[tbl.LogicalName]; ok {
			if _, found := tbl.AlternateKeyFor(cols); !found {
				t.Errorf("%s: no alternate key on %v", tbl.LogicalName, cols)
			}
		}
	}
}

func TestCSCatalogPolymorphicNavigation(t *testing.T) {
	reg := Default()
	cases := []struct{ table, nav, column, target string }{
		{"incident", "customerid_account", "customerid", "account"},
		{"incident", "customerid_contact", "customerid", "contact"},
		{"entitlement", "customerid_contact", "customerid", "contact"},
		{"contact", "parentcustomerid_account", "parentcustomerid", "account"},
		{"incident", "ownerid_team", "ownerid", "team"},
		{"annotation", "objectid_incident", "objectid", "incident"},
		{"queueitem", "objectid_knowledgearticle", "objectid", "knowledgearticle"},
		{"incident", "parentcaseid", "parentcaseid", "incident"},
		{"knowledgearticle", "languagelocaleid", "languagelocaleid", "languagelocale"},
	}
	for _, tc := range cases {
		tbl, _ := reg.Table(tc.table)
		c, target, ok := tbl.LookupByNavigation(tc.nav)
		if !ok || c.LogicalName != tc.column || target != tc.target {
			t.Errorf("%s.%s: got (%v, %q, %v), want column %s target %s", tc.table, tc.nav, c, target, ok, tc.column, tc.target)
		}
	}
	inc, _ := reg.Table("incident")
	if _, _, ok := inc.LookupByNavigation("customerid"); ok {
		t.Error("incident: polymorphic customerid must be bound through customerid_account/_contact")
	}
}
