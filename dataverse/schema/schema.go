// Package schema holds Dataverse table definitions: the one description of a
// table (logical name, entity set, keys, columns, choices) that the Web API
// client, the reference server and the mapping layer all share.
//
// Definitions are plain data so that more tables can be declared from JSON
// (see LoadJSON) without code changes; the Customer Service tables dvsync
// needs are in catalog.go.
package schema

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
)

// ColumnType is the Dataverse AttributeTypeCode of a column.
// Names follow Microsoft.Dynamics.CRM.AttributeTypeCode.
type ColumnType string

const (
	TypeString           ColumnType = "String"
	TypeMemo             ColumnType = "Memo"
	TypeInteger          ColumnType = "Integer"
	TypeBigInt           ColumnType = "BigInt"
	TypeDecimal          ColumnType = "Decimal"
	TypeDouble           ColumnType = "Double"
	TypeMoney            ColumnType = "Money"
	TypeBoolean          ColumnType = "Boolean"
	TypeDateTime         ColumnType = "DateTime"         // UTC date and time
	TypeDateOnly         ColumnType = "DateOnly"         // DateTime with DateOnly behaviour; wire format YYYY-MM-DD
	TypeUniqueidentifier ColumnType = "Uniqueidentifier" // primary keys and plain GUID columns
	TypeLookup           ColumnType = "Lookup"
	TypeCustomer         ColumnType = "Customer" // polymorphic lookup to account|contact
	TypeOwner            ColumnType = "Owner"    // polymorphic lookup to systemuser|team
	TypePicklist         ColumnType = "Picklist"
	TypeState            ColumnType = "State"
	TypeStatus           ColumnType = "Status"
	TypeEntityName       ColumnType = "EntityName"
)

// IsLookup reports whether values of this type reference another record and
// are read as _<name>_value and written with @odata.bind.
func (t ColumnType) IsLookup() bool {
	return t == TypeLookup || t == TypeCustomer || t == TypeOwner
}

// IsChoice reports whether the column takes integer option values.
func (t ColumnType) IsChoice() bool {
	return t == TypePicklist || t == TypeState || t == TypeStatus
}

// RequiredLevel mirrors AttributeRequiredLevel.
type RequiredLevel string

const (
	RequiredNone        RequiredLevel = "None"
	RequiredApplication RequiredLevel = "ApplicationRequired"
	RequiredSystem      RequiredLevel = "SystemRequired"
)

// Option is one choice value. State is the statecode a statuscode option
// belongs to; it is meaningful only on Status columns.
type Option struct {
	Value int    `json:"value"`
	Label string `json:"label"`
	State *int   `json:"state,omitempty"`
	// DefaultStatus marks, on State columns, the statuscode used when only
	// the state is set.
	DefaultStatus *int `json:"defaultStatus,omitempty"`
}

// Column describes one attribute of a table.
type Column struct {
	LogicalName string        `json:"logicalName"`
	Type        ColumnType    `json:"type"`
	DisplayName string        `json:"displayName,omitempty"`
	MaxLength   int           `json:"maxLength,omitempty"` // String and Memo
	Precision   int           `json:"precision,omitempty"` // Decimal and Money
	MinValue    *float64      `json:"minValue,omitempty"`
	MaxValue    *float64      `json:"maxValue,omitempty"`
	Required    RequiredLevel `json:"required,omitempty"`
	// Targets are the logical names a lookup may point at, in the order the
	// typed navigation properties are declared (customerid_account, ...).
	Targets []string `json:"targets,omitempty"`
	// Options are the choice values of Picklist/State/Status columns.
	Options []Option `json:"options,omitempty"`
	// DefaultValue is applied on create when the column is absent.
	DefaultValue any `json:"defaultValue,omitempty"`
	// ReadOnly columns are maintained by the platform (createdon, versionnumber).
	ReadOnly bool `json:"readOnly,omitempty"`
	// CreateOnly columns may be set on create but not changed afterwards.
	CreateOnly bool `json:"createOnly,omitempty"`
	// GlobalOptionSet names the shared choice this column uses, if any.
	GlobalOptionSet string `json:"globalOptionSet,omitempty"`
}

// NavigationProperty returns the single-valued navigation property used to
// bind or expand this lookup toward target. Polymorphic lookups have one per
// target (customerid_account); plain lookups and the owner lookup (whose one
// navigation property, ownerid, is typed as the principal base type) use the
// column name.
func (c *Column) NavigationProperty(target string) string {
	if len(c.Targets) > 1 && c.Type != TypeOwner {
		return c.LogicalName + "_" + target
	}
	return c.LogicalName
}

// ValueProperty is the read-side name of a lookup column: _<name>_value.
func (c *Column) ValueProperty() string { return "_" + c.LogicalName + "_value" }

// OptionByValue finds a choice option.
func (c *Column) OptionByValue(v int) (Option, bool) {
	for _, o := range c.Options {
		if o.Value == v {
			return o, true
		}
	}
	return Option{}, false
}

// AlternateKey is a named set of columns whose combined values are unique.
type AlternateKey struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
}

// ManyToMany declares an N:N relationship through an intersect table.
type ManyToMany struct {
	SchemaName string `json:"schemaName"` // also the collection-valued navigation property name on both sides
	Entity1    string `json:"entity1"`
	Entity2    string `json:"entity2"`
}

// Table describes one Dataverse table.
type Table struct {
	LogicalName   string `json:"logicalName"`
	EntitySetName string `json:"entitySetName"`
	DisplayName   string `json:"displayName,omitempty"`
	PrimaryID     string `json:"primaryId"`
	PrimaryName   string `json:"primaryName"`
	// OwnershipType is UserOwned, OrganizationOwned or None.
	OwnershipType  string         `json:"ownershipType,omitempty"`
	Columns        []Column       `json:"columns"`
	AlternateKeys  []AlternateKey `json:"alternateKeys,omitempty"`
	ChangeTracking bool           `json:"changeTracking,omitempty"`
	// BulkMessages is true when CreateMultiple/UpdateMultiple/UpsertMultiple
	// are registered for the table (sdkmessagefilter rows exist).
	BulkMessages bool `json:"bulkMessages,omitempty"`
	// ObjectTypeCode is the numeric entity type code, where one is fixed.
	ObjectTypeCode int `json:"objectTypeCode,omitempty"`

	once   sync.Once
	byName map[string]*Column
}

// Column returns the column with the given logical name.
func (t *Table) Column(name string) (*Column, bool) {
	t.once.Do(t.index)
	c, ok := t.byName[name]
	return c, ok
}

func (t *Table) index() {
	t.byName = make(map[string]*Column, len(t.Columns))
	for i := range t.Columns {
		t.byName[t.Columns[i].LogicalName] = &t.Columns[i]
	}
}

// LookupByValueProperty resolves `_x_value` to the lookup column x.
func (t *Table) LookupByValueProperty(prop string) (*Column, bool) {
	if !strings.HasPrefix(prop, "_") || !strings.HasSuffix(prop, "_value") {
		return nil, false
	}
	c, ok := t.Column(strings.TrimSuffix(strings.TrimPrefix(prop, "_"), "_value"))
	if !ok || !c.Type.IsLookup() {
		return nil, false
	}
	return c, true
}

// LookupByNavigation resolves a single-valued navigation property
// (primarycontactid, customerid_account, ownerid) to its lookup column and
// target. For ownerid, which may point at a systemuser or a team, the target
// returned is the first one and callers binding a record must pick the
// target from the reference itself (see TargetForSet).
func (t *Table) LookupByNavigation(nav string) (*Column, string, bool) {
	if c, ok := t.Column(nav); ok && c.Type.IsLookup() && (len(c.Targets) == 1 || c.Type == TypeOwner) {
		return c, c.Targets[0], true
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		if !c.Type.IsLookup() || len(c.Targets) < 2 {
			continue
		}
		for _, target := range c.Targets {
			if c.NavigationProperty(target) == nav {
				return c, target, true
			}
		}
	}
	return nil, "", false
}

// AlternateKeyFor returns the declared key whose columns are exactly cols
// (in any order).
func (t *Table) AlternateKeyFor(cols []string) (AlternateKey, bool) {
	want := slices.Clone(cols)
	sort.Strings(want)
	for _, k := range t.AlternateKeys {
		have := slices.Clone(k.Columns)
		sort.Strings(have)
		if slices.Equal(have, want) {
			return k, true
		}
	}
	return AlternateKey{}, false
}

// Validate checks a definition for internal consistency.
func (t *Table) Validate() error {
	if t.LogicalName == "" || t.EntitySetName == "" || t.PrimaryID == "" {
		return fmt.Errorf("schema: table %q: logicalName, entitySetName and primaryId are required", t.LogicalName)
	}
	seen := map[string]bool{}
	for _, c := range t.Columns {
		if seen[c.LogicalName] {
			return fmt.Errorf("schema: table %s: column %s declared twice", t.LogicalName, c.LogicalName)
		}
		seen[c.LogicalName] = true
		if c.Type.IsLookup() && len(c.Targets) == 0 {
			return fmt.Errorf("schema: table %s: lookup %s has no targets", t.LogicalName, c.LogicalName)
		}
	}
	if !seen[t.PrimaryID] {
		return fmt.Errorf("schema: table %s: primary key column %s not declared", t.LogicalName, t.PrimaryID)
	}
	if t.PrimaryName != "" && !seen[t.PrimaryName] {
		return fmt.Errorf("schema: table %s: primary name column %s not declared", t.LogicalName, t.PrimaryName)
	}
	for _, k := range t.AlternateKeys {
		for _, col := range k.Columns {
			if !seen[col] {
				return fmt.Errorf("schema: table %s: key %s names undeclared column %s", t.LogicalName, k.Name, col)
			}
		}
	}
	return nil
}

// Registry is a set of tables addressable by logical name and entity set name.
// It is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	byLogical map[string]*Table
	bySet     map[string]*Table
	order     []string
	m2m       map[string]ManyToMany
	// oneToMany caches OneToManyRelationships; Register clears it.
	oneToMany []OneToMany
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byLogical: map[string]*Table{}, bySet: map[string]*Table{}, m2m: map[string]ManyToMany{}}
}

// Register adds or replaces a table definition.
func (r *Registry) Register(t *Table) error {
	if err := t.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byLogical[t.LogicalName]; ok {
		delete(r.bySet, old.EntitySetName)
	} else {
		r.order = append(r.order, t.LogicalName)
	}
	r.byLogical[t.LogicalName] = t
	r.bySet[t.EntitySetName] = t
	r.oneToMany = nil
	return nil
}

// RegisterManyToMany declares an N:N relationship.
func (r *Registry) RegisterManyToMany(rel ManyToMany) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m2m[rel.SchemaName] = rel
}

// ManyToMany returns a declared N:N relationship by schema name.
func (r *Registry) ManyToMany(name string) (ManyToMany, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	rel, ok := r.m2m[name]
	return rel, ok
}

// ManyToManyRelationships lists the declared N:N relationships sorted by name.
func (r *Registry) ManyToManyRelationships() []ManyToMany {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]ManyToMany, 0, len(r.m2m))
	for _, rel := range r.m2m {
		out = append(out, rel)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SchemaName < out[j].SchemaName })
	return out
}

// Table returns a table by logical name.
func (r *Registry) Table(logicalName string) (*Table, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.byLogical[logicalName]
	return t, ok
}

// TableBySet returns a table by entity set name (case-sensitive, as Dataverse is).
func (r *Registry) TableBySet(set string) (*Table, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.bySet[set]
	return t, ok
}

// Tables lists the tables in registration order.
func (r *Registry) Tables() []*Table {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Table, 0, len(r.order))
	for _, n := range r.order {
		out = append(out, r.byLogical[n])
	}
	return out
}

// jsonFile is the on-disk shape accepted by LoadJSON.
type jsonFile struct {
	Tables        []*Table     `json:"tables"`
	Relationships []ManyToMany `json:"manyToMany"`
}

// LoadJSON registers the tables declared in a JSON document of the form
// {"tables":[...], "manyToMany":[...]}.
func (r *Registry) LoadJSON(src io.Reader) error {
	var f jsonFile
	dec := json.NewDecoder(src)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("schema: decoding table declarations: %w", err)
	}
	for _, t := range f.Tables {
		if err := r.Register(t); err != nil {
			return err
		}
	}
	for _, rel := range f.Relationships {
		r.RegisterManyToMany(rel)
	}
	return nil
}
