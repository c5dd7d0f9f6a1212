package refserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/odata"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// metadataNamespace seeds deterministic MetadataIds, so that they are stable
// across restarts as real ones are.
var metadataNamespace = uuid.MustParse("6d2f9a43-5c0e-4f0b-9d6a-64767379636d")

func metadataID(parts ...string) string {
	return uuid.NewSHA1(metadataNamespace, []byte(strings.Join(parts, "/"))).String()
}

// ensureBuiltins creates the records every environment has: the calling
// administrator and the root business unit, which lookups such as ownerid and
// createdby point at.
func (s *Server) ensureBuiltins(ctx context.Context) error {
	return s.store.write(ctx, func(tx *writeTx) error {
		add := func(table, id string, values row) error {
			t, ok := s.reg.Table(table)
			if !ok {
				return nil
			}
			if r, err := tx.get(t, id); err != nil || r != nil {
				return err
			}
			rec := row{t.PrimaryID: id}
			for k, v := range values {
				if _, ok := t.Column(k); ok {
					rec[k] = v
				}
			}
			if _, ok := t.Column("createdon"); ok {
				rec["createdon"] = tx.now.Format(dateTimeLayout)
				rec["modifiedon"] = tx.now.Format(dateTimeLayout)
			}
			return tx.insert(t, rec)
		}
		if err := add("businessunit", s.businessUnitID, row{"name": "dvsync"}); err != nil {
			return err
		}
		return add("systemuser", s.adminUserID, row{
			"fullname": "dvsync Administrator", "firstname": "dvsync", "lastname": "Administrator",
			"internalemailaddress": "admin@dvsync.invalid", "domainname": "admin@dvsync.invalid",
			"businessunitid": lookupValue{ID: s.businessUnitID, Target: "businessunit"},
		})
	})
}

func (s *Server) serviceDocument(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	writeJSONValue(&buf, baseURL(r)+"$metadata")
	buf.WriteString(`,"value":[`)
	for i, t := range s.reg.Tables() {
		if i > 0 {
			buf.WriteString(",")
		}
		fmt.Fprintf(&buf, `{"name":%q,"kind":"EntitySet","url":%q}`, t.EntitySetName, t.EntitySetName)
	}
	buf.WriteString(`,{"name":"WhoAmI","kind":"FunctionImport","url":"WhoAmI"}]}`)
	writeJSONBytes(w, http.StatusOK, buf.Bytes())
}

func (s *Server) whoAmI(w http.ResponseWriter, r *http.Request) {
	body := fmt.Sprintf(`{"@odata.context":%q,"BusinessUnitId":%q,"UserId":%q,"OrganizationId":%q}`,
		baseURL(r)+"$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", s.businessUnitID, s.adminUserID, s.orgID)
	writeJSONBytes(w, http.StatusOK, []byte(body))
}

// metadataDocument serves CSDL for every declared table: entity types with
// keys, properties (lookups as _x_value plus navigation properties), entity
// sets with navigation bindings, and the WhoAmI function.
func (s *Server) metadataDocument(w http.ResponseWriter, r *http.Request) {
	withAnnotations := r.URL.Query().Get("annotations") == "true"
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">`)
	b.WriteString(`<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">`)
	b.WriteString(`<EntityType Name="crmbaseentity" Abstract="true"/>`)
	b.WriteString(`<EntityType Name="principal" BaseType="mscrm.crmbaseentity" Abstract="true"/>`)
	tables := s.reg.Tables()
	partners := map[string]string{} // referencing.lookup.target -> collection navigation
	for _, rel := range s.reg.OneToManyRelationships() {
		partners[rel.ReferencingEntity+"."+rel.ReferencingAttribute+"."+rel.ReferencedEntity] = rel.SchemaName
	}
	for _, t := range tables {
		fmt.Fprintf(&b, `<EntityType Name="%s" BaseType="mscrm.crmbaseentity"><Key><PropertyRef Name="%s"/></Key>`, t.LogicalName, t.PrimaryID)
		for i := range t.Columns {
			c := &t.Columns[i]
			if c.Type.IsLookup() {
				fmt.Fprintf(&b, `<Property Name="%s" Type="Edm.Guid"/>`, c.ValueProperty())
				continue
			}
			fmt.Fprintf(&b, `<Property Name="%s" Type="%s"`, c.LogicalName, edmType(c))
			if c.Type == schema.TypeString || c.Type == schema.TypeMemo {
				b.WriteString(` Unicode="false"`)
			}
			b.WriteString("/>")
		}
		for i := range t.Columns {
			c := &t.Columns[i]
			if !c.Type.IsLookup() {
				continue
			}
			if c.Type == schema.TypeOwner {
				fmt.Fprintf(&b, `<NavigationProperty Name="%s" Type="mscrm.principal"/>`, c.LogicalName)
				continue
			}
			for _, target := range c.Targets {
				if _, ok := s.reg.Table(target); !ok {
					continue
				}
				fmt.Fprintf(&b, `<NavigationProperty Name="%s" Type="mscrm.%s" Partner="%s"/>`, c.NavigationProperty(target), target, partners[t.LogicalName+"."+c.LogicalName+"."+target])
			}
		}
		s.csdlCollectionNavigation(&b, t, false)
		b.WriteString(`</EntityType>`)
	}
	b.WriteString(`<ComplexType Name="WhoAmIResponse"><Property Name="BusinessUnitId" Type="Edm.Guid" Nullable="false"/><Property Name="UserId" Type="Edm.Guid" Nullable="false"/><Property Name="OrganizationId" Type="Edm.Guid" Nullable="false"/></ComplexType>`)
	b.WriteString(`<ComplexType Name="CreateMultipleResponse"><Collection Name="Ids" Type="Edm.Guid" Nullable="false"/></ComplexType>`)
	b.WriteString(`<Function Name="WhoAmI"><ReturnType Type="mscrm.WhoAmIResponse" Nullable="false"/></Function>`)
	s.csdlOperations(&b)
	b.WriteString(`<EntityContainer Name="System">`)
	for _, t := range tables {
		fmt.Fprintf(&b, `<EntitySet Name="%s" EntityType="Microsoft.Dynamics.CRM.%s">`, t.EntitySetName, t.LogicalName)
		for i := range t.Columns {
			c := &t.Columns[i]
			if !c.Type.IsLookup() {
				continue
			}
			if c.Type == schema.TypeOwner {
				continue // bound to systemusers or teams per record
			}
			for _, target := range c.Targets {
				if tt, ok := s.reg.Table(target); ok {
					fmt.Fprintf(&b, `<NavigationPropertyBinding Path="%s" Target="%s"/>`, c.NavigationProperty(target), tt.EntitySetName)
				}
			}
		}
		s.csdlCollectionNavigation(&b, t, true)
		if withAnnotations && t.ChangeTracking {
			b.WriteString(`<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record><PropertyValue Property="Supported" Bool="true"/></Record></Annotation>`)
		}
		b.WriteString(`</EntitySet>`)
	}
	b.WriteString(`<FunctionImport Name="WhoAmI" Function="Microsoft.Dynamics.CRM.WhoAmI"/>`)
	s.csdlImports(&b)
	b.WriteString(`</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(b.String()))
}

func label(text string) map[string]any {
	l := map[string]any{"Label": text, "LanguageCode": 1033, "IsManaged": true, "MetadataId": metadataID("label", text)}
	return map[string]any{"LocalizedLabels": []any{l}, "UserLocalizedLabel": l}
}

func schemaName(logical string) string {
	parts := strings.Split(logical, "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "_")
}

func (s *Server) entityMetadata(t *schema.Table) map[string]any {
	display := t.DisplayName
	if display == "" {
		display = t.LogicalName
	}
	ownership := t.OwnershipType
	if ownership == "" {
		ownership = "UserOwned"
	}
	var keys []any
	for _, k := range t.AlternateKeys {
		keys = append(keys, map[string]any{
			"MetadataId": metadataID(t.LogicalName, "key", k.Name), "LogicalName": k.Name, "SchemaName": k.Name,
			"KeyAttributes": k.Columns, "EntityKeyIndexStatus": "Active", "EntityLogicalName": t.LogicalName,
		})
	}
	return map[string]any{
		"@odata.type":           "#Microsoft.Dynamics.CRM.EntityMetadata",
		"MetadataId":            metadataID(t.LogicalName),
		"LogicalName":           t.LogicalName,
		"SchemaName":            schemaName(t.LogicalName),
		"EntitySetName":         t.EntitySetName,
		"LogicalCollectionName": t.EntitySetName,
		"PrimaryIdAttribute":    t.PrimaryID,
		"PrimaryNameAttribute":  t.PrimaryName,
		"ObjectTypeCode":        t.ObjectTypeCode,
		"OwnershipType":         ownership,
		"ChangeTrackingEnabled": t.ChangeTracking,
		"IsActivity":            false,
		"IsCustomEntity":        strings.Contains(t.LogicalName, "_"),
		"DisplayName":           label(display),
		"Keys":                  keys,
	}
}

func attributeTypeName(c *schema.Column) (odataType, typeName string) {
	switch c.Type {
	case schema.TypeString:
		return "StringAttributeMetadata", "StringType"
	case schema.TypeMemo:
		return "MemoAttributeMetadata", "MemoType"
	case schema.TypeInteger:
		return "IntegerAttributeMetadata", "IntegerType"
	case schema.TypeBigInt:
		return "BigIntAttributeMetadata", "BigIntType"
	case schema.TypeDecimal:
		return "DecimalAttributeMetadata", "DecimalType"
	case schema.TypeDouble:
		return "DoubleAttributeMetadata", "DoubleType"
	case schema.TypeMoney:
		return "MoneyAttributeMetadata", "MoneyType"
	case schema.TypeBoolean:
		return "BooleanAttributeMetadata", "BooleanType"
	case schema.TypeDateTime, schema.TypeDateOnly:
		return "DateTimeAttributeMetadata", "DateTimeType"
	case schema.TypeLookup:
		return "LookupAttributeMetadata", "LookupType"
	case schema.TypeCustomer:
		return "LookupAttributeMetadata", "CustomerType"
	case schema.TypeOwner:
		return "LookupAttributeMetadata", "OwnerType"
	case schema.TypePicklist:
		return "PicklistAttributeMetadata", "PicklistType"
	case schema.TypeState:
		return "StateAttributeMetadata", "StateType"
	case schema.TypeStatus:
		return "StatusAttributeMetadata", "StatusType"
	case schema.TypeEntityName:
		return "EntityNameAttributeMetadata", "EntityNameType"
	}
	return "AttributeMetadata", "UniqueidentifierType"
}

func (s *Server) attributeMetadata(t *schema.Table, c *schema.Column, withOptions bool) map[string]any {
	odt, tn := attributeTypeName(c)
	req := c.Required
	if req == "" {
		req = schema.RequiredNone
	}
	display := c.DisplayName
	if display == "" {
		display = c.LogicalName
	}
	m := map[string]any{
		"@odata.type":       "#Microsoft.Dynamics.CRM." + odt,
		"MetadataId":        metadataID(t.LogicalName, c.LogicalName),
		"LogicalName":       c.LogicalName,
		"SchemaName":        schemaName(c.LogicalName),
		"EntityLogicalName": t.LogicalName,
		"AttributeType":     string(c.Type),
		"AttributeTypeName": map[string]any{"Value": tn},
		"DisplayName":       label(display),
		"IsPrimaryId":       c.LogicalName == t.PrimaryID,
		"IsPrimaryName":     c.LogicalName == t.PrimaryName,
		"IsValidForCreate":  !c.ReadOnly,
		"IsValidForUpdate":  !c.ReadOnly && !c.CreateOnly,
		"IsValidForRead":    true,
		"RequiredLevel":     map[string]any{"Value": string(req), "CanBeChanged": req != schema.RequiredSystem, "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
	}
	if c.Type == schema.TypeString || c.Type == schema.TypeMemo {
		m["MaxLength"] = c.MaxLength
	}
	if c.Type == schema.TypeDateOnly {
		m["DateTimeBehavior"] = map[string]any{"Value": "DateOnly"}
		m["Format"] = "DateOnly"
	} else if c.Type == schema.TypeDateTime {
		m["DateTimeBehavior"] = map[string]any{"Value": "UserLocal"}
		m["Format"] = "DateAndTime"
	}
	if c.Type.IsLookup() {
		m["Targets"] = c.Targets
	}
	if c.Type == schema.TypeDecimal || c.Type == schema.TypeMoney {
		m["Precision"] = c.Precision
	}
	if c.MinValue != nil {
		m["MinValue"] = *c.MinValue
	}
	if c.MaxValue != nil {
		m["MaxValue"] = *c.MaxValue
	}
	if withOptions && c.Type.IsChoice() {
		var opts []any
		for _, o := range c.Options {
			om := map[string]any{"Value": o.Value, "Label": label(o.Label)}
			if o.State != nil {
				om["State"] = *o.State
			}
			if o.DefaultStatus != nil {
				om["DefaultStatus"] = *o.DefaultStatus
			}
			opts = append(opts, om)
		}
		m["OptionSet"] = map[string]any{"MetadataId": metadataID(t.LogicalName, c.LogicalName, "options"), "Name": t.LogicalName + "_" + c.LogicalName, "IsGlobal": c.GlobalOptionSet != "", "Options": opts}
	}
	return m
}

var attributeCasts = map[string]schema.ColumnType{
	"Microsoft.Dynamics.CRM.PicklistAttributeMetadata": schema.TypePicklist,
	"Microsoft.Dynamics.CRM.StateAttributeMetadata":    schema.TypeState,
	"Microsoft.Dynamics.CRM.StatusAttributeMetadata":   schema.TypeStatus,
	"Microsoft.Dynamics.CRM.LookupAttributeMetadata":   schema.TypeLookup,
	"Microsoft.Dynamics.CRM.StringAttributeMetadata":   schema.TypeString,
}

// entityDefinitions serves the metadata Web API (query-metadata-web-api.md):
// EntityDefinitions, EntityDefinitions(LogicalName='x') or (<MetadataId>),
// with /Attributes, Attributes(LogicalName='y') and type casts such as
// /Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet.
func (s *Server) entityDefinitions(w http.ResponseWriter, r *http.Request, keyText string, hasKey bool, rest []string) {
	if r.Method != http.MethodGet {
		writeError(w, methodNotAllowed(r.Method, "EntityDefinitions"))
		return
	}
	q, err := s.parseQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	base := baseURL(r)
	if !hasKey {
		if len(rest) > 0 {
			writeError(w, notFoundSegment(rest[0]))
			return
		}
		var items []map[string]any
		for _, t := range s.reg.Tables() {
			m := s.entityMetadata(t)
			if q.Filter != nil {
				ok, err := evalMetadataFilter(q.Filter, m)
				if err != nil {
					writeError(w, err)
					return
				}
				if !ok {
					continue
				}
			}
			items = append(items, project(m, q.Select, s.expandEntity(t, m, q), "MetadataId"))
		}
		writeMetadataCollection(w, base+"$metadata#EntityDefinitions", items)
		return
	}
	t, err := s.tableByMetadataKey(keyText)
	if err != nil {
		writeError(w, err)
		return
	}
	if len(rest) == 0 {
		m := s.entityMetadata(t)
		m = project(m, q.Select, s.expandEntity(t, m, q), "MetadataId")
		m["@odata.context"] = base + "$metadata#EntityDefinitions/$entity"
		writeMetadataObject(w, m)
		return
	}
	name, attrKey, attrHasKey := cutKey(rest[0])
	if name != "Attributes" {
		if name == "Keys" && !attrHasKey {
			writeMetadataCollection(w, base+"$metadata#EntityDefinitions('"+t.LogicalName+"')/Keys", toMaps(s.entityMetadata(t)["Keys"]))
			return
		}
		writeError(w, notFoundSegment(rest[0]))
		return
	}
	var cast schema.ColumnType
	if len(rest) > 1 {
		ct, ok := attributeCasts[rest[1]]
		if !ok {
			writeError(w, notFoundSegment(rest[1]))
			return
		}
		cast = ct
	}
	withOptions := false
	for _, e := range q.Expand {
		if e.Property == "OptionSet" || e.Property == "GlobalOptionSet" {
			withOptions = true
		}
	}
	var items []map[string]any
	for i := range t.Columns {
		c := &t.Columns[i]
		if attrHasKey {
			want := strings.Trim(strings.TrimPrefix(attrKey, "LogicalName="), "'")
			if c.LogicalName != want && metadataID(t.LogicalName, c.LogicalName) != strings.ToLower(want) {
				continue
			}
		}
		if cast != "" && c.Type != cast && !(cast == schema.TypeLookup && c.Type.IsLookup()) {
			continue
		}
		m := s.attributeMetadata(t, c, withOptions)
		if q.Filter != nil {
			ok, err := evalMetadataFilter(q.Filter, m)
			if err != nil {
				writeError(w, err)
				return
			}
			if !ok {
				continue
			}
		}
		var expanded []string
		if withOptions {
			expanded = []string{"OptionSet"}
		}
		items = append(items, project(m, q.Select, expanded, "MetadataId", "@odata.type"))
	}
	if attrHasKey {
		if len(items) == 0 {
			writeError(w, newError(http.StatusNotFound, codeObjectDoesNotExist, "Could not find attribute %s on entity %s.", attrKey, t.LogicalName))
			return
		}
		items[0]["@odata.context"] = base + "$metadata#EntityDefinitions('" + t.LogicalName + "')/Attributes/$entity"
		writeMetadataObject(w, items[0])
		return
	}
	writeMetadataCollection(w, base+"$metadata#EntityDefinitions('"+t.LogicalName+"')/Attributes", items)
}

func toMaps(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		out = append(out, x.(map[string]any))
	}
	return out
}

// expandEntity fills the navigation properties a query expands (Keys,
// Attributes) and returns their names.
func (s *Server) expandEntity(t *schema.Table, m map[string]any, q *odata.Query) []string {
	var expanded []string
	for _, e := range q.Expand {
		if e.Property == "Keys" {
			expanded = append(expanded, "Keys")
			continue
		}
		if e.Property != "Attributes" {
			continue
		}
		expanded = append(expanded, "Attributes")
		var attrs []map[string]any
		for i := range t.Columns {
			am := s.attributeMetadata(t, &t.Columns[i], false)
			if e.Filter != nil {
				if ok, err := evalMetadataFilter(e.Filter, am); err != nil || !ok {
					continue
				}
			}
			attrs = append(attrs, project(am, e.Select, nil, "MetadataId", "@odata.type"))
		}
		m["Attributes"] = attrs
	}
	return expanded
}

func (s *Server) tableByMetadataKey(keyText string) (*schema.Table, error) {
	if name, ok := strings.CutPrefix(keyText, "LogicalName="); ok {
		name = strings.Trim(name, "'")
		if t, ok := s.reg.Table(name); ok {
			return t, nil
		}
		return nil, newError(http.StatusNotFound, codeObjectDoesNotExist, "Could not find entity with LogicalName '%s'.", name)
	}
	for _, t := range s.reg.Tables() {
		if metadataID(t.LogicalName) == strings.ToLower(strings.Trim(keyText, "'")) {
			return t, nil
		}
	}
	return nil, newError(http.StatusNotFound, codeObjectDoesNotExist, "Could not find entity with MetadataId '%s'.", keyText)
}

// project keeps the selected properties, the expanded navigation
// properties and the always-returned ones.
func project(m map[string]any, sel, expanded []string, always ...string) map[string]any {
	if len(sel) == 0 {
		return m
	}
	out := map[string]any{}
	for _, k := range append(append([]string(nil), always...), sel...) {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	for _, k := range expanded {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

func writeMetadataCollection(w http.ResponseWriter, context string, items []map[string]any) {
	if items == nil {
		items = []map[string]any{}
	}
	writeMetadataObject(w, map[string]any{"@odata.context": context, "value": items})
}

func writeMetadataObject(w http.ResponseWriter, m map[string]any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(sortedMap(m))
	writeJSONBytes(w, http.StatusOK, bytes.TrimSpace(buf.Bytes()))
}

// sortedMap puts @odata annotations first, for readable output; JSON object
// order is not significant to clients.
func sortedMap(m map[string]any) any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ai, aj := strings.HasPrefix(keys[i], "@"), strings.HasPrefix(keys[j], "@")
		if ai != aj {
			return ai
		}
		return keys[i] < keys[j]
	})
	return m
}

// evalMetadataFilter evaluates a $filter against a metadata object: eq/ne on
// primitive properties (with enum literals), and/or/not, and paths such as
// CanCreateAttributes/Value.
func evalMetadataFilter(e odata.Expr, m map[string]any) (bool, error) {
	switch x := e.(type) {
	case *odata.BinaryExpr:
		switch x.Op {
		case odata.OpAnd, odata.OpOr:
			l, err := evalMetadataFilter(x.Left, m)
			if err != nil {
				return false, err
			}
			r, err := evalMetadataFilter(x.Right, m)
			if err != nil {
				return false, err
			}
			if x.Op == odata.OpAnd {
				return l && r, nil
			}
			return l || r, nil
		case odata.OpEq, odata.OpNe:
			p, ok := x.Left.(*odata.Property)
			lit, ok2 := x.Right.(*odata.Literal)
			if !ok || !ok2 {
				return false, badRequest(codeQueryNotSupported, "Metadata filters compare a property with a literal.")
			}
			var v any = m
			for _, seg := range p.Path {
				mm, ok := v.(map[string]any)
				if !ok {
					v = nil
					break
				}
				v = mm[seg]
			}
			var want any = lit.Value
			if ev, ok := lit.Value.(odata.EnumValue); ok {
				want = ev.Member
			}
			eq := fmt.Sprint(v) == fmt.Sprint(want)
			if lit.Kind == odata.LitNull {
				eq = v == nil
			}
			if x.Op == odata.OpNe {
				return !eq, nil
			}
			return eq, nil
		}
	case *odata.NotExpr:
		v, err := evalMetadataFilter(x.X, m)
		return !v, err
	}
	return false, badRequest(codeQueryNotSupported, "The metadata query filter is not supported.")
}
