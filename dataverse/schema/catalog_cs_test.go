package schema

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
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
		// Owner columns have one navigation property typed principal; the
		// bound entity set tells user from team (Web API reference,
		// principal EntityType: owner_accounts has partner ownerid).
		{"incident", "ownerid", "ownerid", "systemuser"},
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
	if _, _, ok := inc.LookupByNavigation("ownerid_team"); ok {
		t.Error("incident: ownerid_team is not a Web API navigation property; owners bind through ownerid")
	}
}

// ---- seed data ---------------------------------------------------------------

// csSeedDir is the committed seed set; DVSYNC_SEED_DIR points the check at
// another directory, such as the output of seedgen -incidents N.
func csSeedDir() string {
	if dir := os.Getenv("DVSYNC_SEED_DIR"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "testdata", "dataverse", "seed")
}

var csSeedFileName = regexp.MustCompile(`^[0-9]{2}-([A-Za-z0-9_]+)\.json$`)

// csSeedRef matches an @odata.bind value: /<entityset>(<guid>).
var csSeedRef = regexp.MustCompile(`^/([A-Za-z0-9_]+)\(([0-9a-fA-F-]{36})\)$`)

// csSeedChecker validates seed records as the reference server's create
// path must accept them: known columns, writable, right types and lengths,
// valid choices and state/status pairs, required columns present, bindings
// to records loaded before, unique primary and alternate keys.
type csSeedChecker struct {
	reg  *Registry
	ids  map[string]map[string]bool // logical name -> primary keys loaded
	keys map[string]map[string]bool // table/key name -> key values seen
}

func (c *csSeedChecker) checkRecord(tbl *Table, raw map[string]any) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	present := map[string]any{}
	for prop, v := range raw {
		nav, isBind := strings.CutSuffix(prop, "@odata.bind")
		if !isBind {
			if strings.Contains(prop, "@") {
				bad("annotation %s does not belong in a create payload", prop)
				continue
			}
			col, ok := tbl.Column(prop)
			switch {
			case !ok:
				bad("unknown column %s", prop)
			case col.ReadOnly:
				bad("read-only column %s", prop)
			case col.Type.IsLookup():
				bad("lookup %s must be set with %s@odata.bind", prop, prop)
			default:
				if err := csCheckValue(col, v); err != nil {
					bad("%s: %v", prop, err)
				}
				present[prop] = v
			}
			continue
		}
		col, target, ok := csNavigation(c.reg, tbl, nav, v)
		if !ok {
			bad("unknown navigation property %s (value %v)", nav, v)
			continue
		}
		if col.ReadOnly {
			bad("binding read-only lookup %s", col.LogicalName)
		}
		ref, _ := v.(string)
		m := csSeedRef.FindStringSubmatch(ref)
		targetTable, _ := c.reg.Table(target)
		if m == nil || targetTable == nil || m[1] != targetTable.EntitySetName {
			bad("%s: %q is not a reference to a %s record", prop, ref, target)
			continue
		}
		if !c.ids[target][strings.ToLower(m[2])] {
			bad("%s: %s(%s) is not loaded before this record", prop, target, m[2])
		}
		present[col.LogicalName] = m[2]
	}
	for _, col := range tbl.Columns {
		if col.Required == RequiredNone || col.Required == "" || col.ReadOnly || col.DefaultValue != nil || col.LogicalName == tbl.PrimaryID {
			continue
		}
		if _, ok := present[col.LogicalName]; !ok {
			bad("required column %s missing", col.LogicalName)
		}
	}
	if status, ok := present["statuscode"]; ok {
		stateCol, _ := tbl.Column("statecode")
		statusCol, _ := tbl.Column("statuscode")
		state := stateCol.DefaultValue
		if s, ok := present["statecode"]; ok {
			state = s
		}
		st, _ := csInt(state)
		sv, _ := csInt(status)
		if o, ok := statusCol.OptionByValue(sv); ok && (o.State == nil || *o.State != st) {
			bad("statuscode %d does not belong to statecode %d", sv, st)
		}
	}
	id, _ := raw[tbl.PrimaryID].(string)
	if _, err := uuid.Parse(id); err != nil {
		bad("primary key %s missing or not a GUID", tbl.PrimaryID)
	} else if c.ids[tbl.LogicalName][strings.ToLower(id)] {
		bad("duplicate primary key %s", id)
	} else {
		c.ids[tbl.LogicalName][strings.ToLower(id)] = true
	}
	for _, k := range tbl.AlternateKeys {
		var parts []string
		for _, col := range k.Columns {
			v, ok := present[col]
			if !ok {
				parts = nil
				break
			}
			parts = append(parts, strings.ToLower(fmt.Sprint(v)))
		}
		if parts == nil {
			continue
		}
		slot := tbl.LogicalName + "/" + k.Name
		value := strings.Join(parts, "\x00")
		if c.keys[slot][value] {
			bad("alternate key %s value %q used twice", k.Name, value)
		}
		c.keys[slot][value] = true
	}
	return problems
}

// csNavigation resolves a single-valued navigation property the way the
// Web API does: typed properties for Customer and other polymorphic lookups
// (customerid_account, objectid_incident), and one property for an Owner
// column (ownerid), whose target is the entity set the reference names.
func csNavigation(reg *Registry, tbl *Table, nav string, v any) (*Column, string, bool) {
	if col, ok := tbl.Column(nav); ok && col.Type == TypeOwner {
		ref, _ := v.(string)
		if m := csSeedRef.FindStringSubmatch(ref); m != nil {
			if target, ok := reg.TableBySet(m[1]); ok && slices.Contains(col.Targets, target.LogicalName) {
				return col, target.LogicalName, true
			}
		}
		return nil, "", false
	}
	return tbl.LookupByNavigation(nav)
}

func csInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case json.Number:
		n, err := strconv.Atoi(x.String())
		return n, err == nil
	}
	return 0, false
}

func csCheckValue(col *Column, v any) error {
	if v == nil {
		return nil
	}
	switch col.Type {
	case TypeString, TypeMemo, TypeEntityName:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a string, got %T", v)
		}
		if col.MaxLength > 0 && utf8.RuneCountInString(s) > col.MaxLength {
			return fmt.Errorf("%d characters exceed the maximum %d", utf8.RuneCountInString(s), col.MaxLength)
		}
	case TypeInteger, TypeBigInt, TypePicklist, TypeState, TypeStatus:
		n, ok := csInt(v)
		if !ok {
			return fmt.Errorf("want an integer, got %v", v)
		}
		if col.Type.IsChoice() {
			if _, ok := col.OptionByValue(n); !ok {
				return fmt.Errorf("%d is not a valid option", n)
			}
		}
		if (col.MinValue != nil && float64(n) < *col.MinValue) || (col.MaxValue != nil && float64(n) > *col.MaxValue) {
			return fmt.Errorf("%d out of range", n)
		}
	case TypeDecimal, TypeDouble, TypeMoney:
		num, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("want a number, got %T", v)
		}
		f, err := num.Float64()
		if err != nil {
			return err
		}
		if (col.MinValue != nil && f < *col.MinValue) || (col.MaxValue != nil && f > *col.MaxValue) {
			return fmt.Errorf("%v out of range", f)
		}
		if _, frac, ok := strings.Cut(num.String(), "."); ok && col.Precision > 0 && len(frac) > col.Precision {
			return fmt.Errorf("%s has more than %d decimals", num, col.Precision)
		}
	case TypeBoolean:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("want a boolean, got %T", v)
		}
	case TypeDateTime:
		s, _ := v.(string)
		if _, err := time.Parse("2006-01-02T15:04:05Z", s); err != nil {
			return fmt.Errorf("want UTC date and time like 2025-03-04T10:00:00Z, got %v", v)
		}
	case TypeDateOnly:
		s, _ := v.(string)
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return fmt.Errorf("want a date like 2025-03-04, got %v", v)
		}
	case TypeUniqueidentifier:
		s, _ := v.(string)
		if _, err := uuid.Parse(s); err != nil {
			return fmt.Errorf("want a GUID, got %v", v)
		}
	default:
		return fmt.Errorf("no seed check for column type %s", col.Type)
	}
	return nil
}

// csCheckSeedDir streams every seed file in lexical order through the
// checker and returns the record count per table.
func csCheckSeedDir(t *testing.T, dir string) map[string]int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading seed directory: %v", err)
	}
	reg := Default()
	c := &csSeedChecker{reg: reg, ids: map[string]map[string]bool{}, keys: map[string]map[string]bool{}}
	for _, tbl := range reg.Tables() {
		c.ids[tbl.LogicalName] = map[string]bool{}
		for _, k := range tbl.AlternateKeys {
			c.keys[tbl.LogicalName+"/"+k.Name] = map[string]bool{}
		}
	}
	counts := map[string]int{}
	for _, e := range entries { // os.ReadDir sorts by name
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		m := csSeedFileName.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("%s: seed files are named NN-<entitysetname>.json", e.Name())
			continue
		}
		tbl, ok := reg.TableBySet(m[1])
		if !ok {
			t.Errorf("%s: no table has entity set %s", e.Name(), m[1])
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bufio.NewReader(f))
		dec.UseNumber()
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			t.Errorf("%s: not a JSON array", e.Name())
			f.Close()
			continue
		}
		reported := 0
		for i := 0; dec.More(); i++ {
			var raw map[string]any
			if err := dec.Decode(&raw); err != nil {
				t.Errorf("%s record %d: %v", e.Name(), i, err)
				break
			}
			for _, p := range c.checkRecord(tbl, raw) {
				if reported++; reported <= 20 {
					t.Errorf("%s record %d (%v): %s", e.Name(), i, raw[tbl.PrimaryID], p)
				}
			}
			counts[tbl.LogicalName]++
		}
		f.Close()
	}
	return counts
}

func TestCSSeedMatchesCatalog(t *testing.T) {
	dir := csSeedDir()
	counts := csCheckSeedDir(t, dir)
	if os.Getenv("DVSYNC_SEED_DIR") != "" {
		t.Logf("%s: %v", dir, counts)
		return
	}
	// The committed set must stay big enough for the demo and the paging
	// tests that rely on it.
	atLeast := map[string]int{
		"systemuser": 20, "team": 3, "account": 60, "contact": 150, "product": 20, "queue": 5,
		"calendar": 1, "sla": 3, "slaitem": 6, "msdyn_slakpi": 2, "entitlement": 40,
		"entitlementchannel": 80, "entitlementtemplate": 3, "incident": 400, "annotation": 50,
		"knowledgearticle": 35, "queueitem": 50, "slakpiinstance": 100, "languagelocale": 2, "subject": 5,
	}
	for table, n := range atLeast {
		if counts[table] < n {
			t.Errorf("seed has %d %s records, want at least %d", counts[table], table, n)
		}
	}
}

// The checker itself must reject what the server rejects.
func TestCSSeedCheckerRejectsBadRecords(t *testing.T) {
	reg := Default()
	c := &csSeedChecker{reg: reg, ids: map[string]map[string]bool{}, keys: map[string]map[string]bool{}}
	for _, tbl := range reg.Tables() {
		c.ids[tbl.LogicalName] = map[string]bool{}
		for _, k := range tbl.AlternateKeys {
			c.keys[tbl.LogicalName+"/"+k.Name] = map[string]bool{}
		}
	}
	account := "6d0b1c57-2f4e-4d35-9a53-0a6f0c1d2e3f"
	c.ids["account"][account] = true
	incident, _ := reg.Table("incident")
	decode := func(s string) map[string]any {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	good := `{"incidentid":"11111111-2222-3333-4444-555555555555","title":"t","ticketnumber":"CAS-1","customerid_account@odata.bind":"/accounts(` + account + `)","ownerid@odata.bind":"/systemusers(` + account + `)","statecode":1,"statuscode":5}`
	c.ids["systemuser"][account] = true
	if p := c.checkRecord(incident, decode(good)); len(p) != 0 {
		t.Fatalf("valid record rejected: %v", p)
	}
	cases := map[string]string{
		"unknown column":        `{"incidentid":"21111111-2222-3333-4444-555555555555","title":"t","nosuch":1,"customerid_account@odata.bind":"/accounts(` + account + `)","ownerid@odata.bind":"/systemusers(` + account + `)"}`,
		"status of other state": `{"incidentid":"31111111-2222-3333-4444-555555555555","title":"t","statecode":0,"statuscode":5,"customerid_account@odata.bind":"/accounts(` + account + `)","ownerid@odata.bind":"/systemusers(` + account + `)"}`,
		"missing customer":      `{"incidentid":"41111111-2222-3333-4444-555555555555","title":"t","ownerid@odata.bind":"/systemusers(` + account + `)"}`,
		"unloaded reference":    `{"incidentid":"51111111-2222-3333-4444-555555555555","title":"t","customerid_contact@odata.bind":"/contacts(` + account + `)","ownerid@odata.bind":"/systemusers(` + account + `)"}`,
		"too long":              `{"incidentid":"61111111-2222-3333-4444-555555555555","title":"` + strings.Repeat("x", 201) + `","customerid_account@odata.bind":"/accounts(` + account + `)","ownerid@odata.bind":"/systemusers(` + account + `)"}`,
		"bad choice":            `{"incidentid":"71111111-2222-3333-4444-555555555555","title":"t","prioritycode":9,"customerid_account@odata.bind":"/accounts(` + account + `)","ownerid@odata.bind":"/systemusers(` + account + `)"}`,
		"duplicate ticket":      `{"incidentid":"81111111-2222-3333-4444-555555555555","title":"t","ticketnumber":"cas-1","customerid_account@odata.bind":"/accounts(` + account + `)","ownerid@odata.bind":"/systemusers(` + account + `)"}`,
		"read-only column":      `{"incidentid":"91111111-2222-3333-4444-555555555555","title":"t","createdon":"2025-01-01T00:00:00Z","customerid_account@odata.bind":"/accounts(` + account + `)","ownerid@odata.bind":"/systemusers(` + account + `)"}`,
		"wrong set for target":  `{"incidentid":"a1111111-2222-3333-4444-555555555555","title":"t","customerid_account@odata.bind":"/contacts(` + account + `)","ownerid@odata.bind":"/systemusers(` + account + `)"}`,
		"duplicate primary key": good,
	}
	for name, body := range cases {
		if p := c.checkRecord(incident, decode(body)); len(p) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
}
