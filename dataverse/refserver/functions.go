package refserver

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/dvsync/dvsync/dataverse/odata"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// Version is what RetrieveVersion reports: a 9.2 service version, shaped
// like Dataverse's (RetrieveVersion function reference,
// powerapps-docs developer/data-platform/webapi/reference/retrieveversion.md).
const Version = "9.2.0.0"

// functionRoutes serves the unbound functions and the metadata collections
// that are not EntityDefinitions; it reports whether it handled the request.
func (s *Server) functionRoutes(w http.ResponseWriter, r *http.Request, segs []string) bool {
	name, keyText, hasKey := cutKey(segs[0])
	switch name {
	case "RetrieveTotalRecordCount", "RetrieveVersion":
		if len(segs) != 1 {
			return false
		}
		if r.Method != http.MethodGet {
			writeError(w, methodNotAllowed(r.Method, segs[0]))
			return true
		}
		if name == "RetrieveVersion" {
			if keyText != "" {
				writeError(w, badRequest(codeQueryNotSupported, "The function RetrieveVersion takes no parameters."))
				return true
			}
			writeJSONBytes(w, http.StatusOK, fmt.Appendf(nil, `{"@odata.context":%q,"Version":%q}`, baseURL(r)+"$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse", Version))
			return true
		}
		if !hasKey {
			writeError(w, badRequest(codeQueryNotSupported, "The function RetrieveTotalRecordCount requires the parameter EntityNames."))
			return true
		}
		s.retrieveTotalRecordCount(w, r, keyText)
		return true
	case "RelationshipDefinitions":
		s.relationshipDefinitions(w, r, keyText, hasKey, segs[1:])
		return true
	case "GlobalOptionSetDefinitions":
		s.globalOptionSetDefinitions(w, r, keyText, hasKey, segs[1:])
		return true
	}
	return false
}

// retrieveTotalRecordCount answers RetrieveTotalRecordCount(EntityNames=[...])
// (count-rows.md "Use RetrieveTotalRecordCount"; reference/retrievetotalrecordcount.md):
// EntityRecordCountCollection with Keys and Values. Dataverse answers from a
// periodic snapshot; the reference server counts exactly.
func (s *Server) retrieveTotalRecordCount(w http.ResponseWriter, r *http.Request, params string) {
	pname, value, ok := strings.Cut(params, "=")
	if !ok || strings.TrimSpace(pname) != "EntityNames" {
		writeError(w, badRequest(codeQueryNotSupported, "The function RetrieveTotalRecordCount requires the parameter EntityNames."))
		return
	}
	value = strings.TrimSpace(value)
	if strings.HasPrefix(value, "@") {
		// A parameter alias: EntityNames=@p1&@p1=["account"].
		v, err := url.QueryUnescape(r.URL.Query().Get(value))
		if err != nil || v == "" {
			writeError(w, badRequest(codeQueryNotSupported, "The parameter alias %s has no value.", value))
			return
		}
		value = v
	}
	names, err := parseStringList(value)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	var counts []int64
	for _, n := range names {
		t, ok := s.reg.Table(n)
		if !ok {
			writeError(w, badRequest(codeNoEntity, "The entity with a name = '%s' with namemapping = 'Logical' was not found in the MetadataCache.", n))
			return
		}
		var c int64
		if err := s.store.reader(ctx).QueryRowContext(ctx, "SELECT COUNT(*) FROM "+sqlTable(t)).Scan(&c); err != nil {
			writeError(w, err)
			return
		}
		counts = append(counts, c)
	}
	body := map[string]any{
		"@odata.context": baseURL(r) + "$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse",
		"EntityRecordCountCollection": map[string]any{
			"Count": len(names), "IsReadOnly": false, "Keys": names, "Values": counts,
		},
	}
	writeMetadataObject(w, body)
}

// parseStringList reads ['a','b'] or ["a","b"].
func parseStringList(v string) ([]string, error) {
	lit, err := odata.ParseFilter("x eq " + v)
	if err == nil {
		if be, ok := lit.(*odata.BinaryExpr); ok {
			if list, ok := be.Right.(*odata.ListLiteral); ok {
				var out []string
				for _, it := range list.Items {
					l, ok := it.(*odata.Literal)
					if !ok || l.Kind != odata.LitString {
						return nil, badRequest(codeQueryNotSupported, "EntityNames must be a list of table logical names, such as ['account','contact'].")
					}
					out = append(out, l.Value.(string))
				}
				return out, nil
			}
		}
	}
	return nil, badRequest(codeQueryNotSupported, "EntityNames must be a list of table logical names, such as ['account','contact'].")
}

// relationshipMetadata describes a one-to-many relationship as
// RelationshipDefinitions does (query-metadata-web-api.md,
// OneToManyRelationshipMetadata EntityType).
func relationshipMetadata(rel schema.OneToMany) map[string]any {
	return map[string]any{
		"@odata.type":                             "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
		"MetadataId":                              metadataID("rel", rel.SchemaName),
		"SchemaName":                              rel.SchemaName,
		"RelationshipType":                        "OneToManyRelationship",
		"ReferencedEntity":                        rel.ReferencedEntity,
		"ReferencedAttribute":                     rel.ReferencedAttribute,
		"ReferencingEntity":                       rel.ReferencingEntity,
		"ReferencingAttribute":                    rel.ReferencingAttribute,
		"ReferencedEntityNavigationPropertyName":  rel.SchemaName,
		"ReferencingEntityNavigationPropertyName": rel.ReferencingNavigation,
		"IsCustomRelationship":                    false,
		"IsValidForAdvancedFind":                  true,
		"IsHierarchical":                          rel.ReferencedEntity == rel.ReferencingEntity && rel.ReferencingAttribute == "parentaccountid",
	}
}

func manyToManyMetadata(rel schema.ManyToMany) map[string]any {
	return map[string]any{
		"@odata.type":                   "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
		"MetadataId":                    metadataID("rel", rel.SchemaName),
		"SchemaName":                    rel.SchemaName,
		"RelationshipType":              "ManyToManyRelationship",
		"Entity1LogicalName":            rel.Entity1,
		"Entity2LogicalName":            rel.Entity2,
		"Entity1NavigationPropertyName": rel.SchemaName,
		"Entity2NavigationPropertyName": rel.SchemaName,
		"IntersectEntityName":           rel.IntersectEntity(),
		"IsCustomRelationship":          false,
		"IsValidForAdvancedFind":        true,
	}
}

var relationshipCasts = map[string]string{
	"Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata":  "OneToManyRelationship",
	"Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata": "ManyToManyRelationship",
}

// relationshipDefinitions serves RelationshipDefinitions,
// RelationshipDefinitions(SchemaName='x') or (<MetadataId>), and the casts
// /Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata and
// ManyToManyRelationshipMetadata, with $select and $filter
// (query-metadata-web-api.md, "Retrieve relationships").
func (s *Server) relationshipDefinitions(w http.ResponseWriter, r *http.Request, keyText string, hasKey bool, rest []string) {
	if r.Method != http.MethodGet {
		writeError(w, methodNotAllowed(r.Method, "RelationshipDefinitions"))
		return
	}
	q, err := s.parseQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cast := ""
	if len(rest) > 1 {
		writeError(w, notFoundSegment(rest[1]))
		return
	}
	if len(rest) == 1 {
		var ok bool
		if cast, ok = relationshipCasts[rest[0]]; !ok {
			writeError(w, notFoundSegment(rest[0]))
			return
		}
	}
	var all []map[string]any
	for _, rel := range s.reg.OneToManyRelationships() {
		all = append(all, relationshipMetadata(rel))
	}
	for _, rel := range s.reg.ManyToManyRelationships() {
		all = append(all, manyToManyMetadata(rel))
	}
	sort.Slice(all, func(i, j int) bool { return all[i]["SchemaName"].(string) < all[j]["SchemaName"].(string) })
	base := baseURL(r)
	if hasKey {
		want := strings.Trim(strings.TrimPrefix(keyText, "SchemaName="), "'")
		for _, m := range all {
			if strings.EqualFold(m["SchemaName"].(string), want) || m["MetadataId"] == strings.ToLower(keyText) {
				m = project(m, q.Select, nil, "MetadataId", "@odata.type")
				m["@odata.context"] = base + "$metadata#RelationshipDefinitions/$entity"
				writeMetadataObject(w, m)
				return
			}
		}
		writeError(w, newError(http.StatusNotFound, codeObjectDoesNotExist, "Could not find relationship %s.", keyText))
		return
	}
	var items []map[string]any
	for _, m := range all {
		if cast != "" && m["RelationshipType"] != cast {
			continue
		}
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
		items = append(items, project(m, q.Select, nil, "MetadataId", "@odata.type"))
	}
	ctxName := "RelationshipDefinitions"
	if cast != "" {
		ctxName += "/" + rest[0]
	}
	writeMetadataCollection(w, base+"$metadata#"+ctxName, items)
}

// globalOptionSets collects the global choices the declared columns use.
func (s *Server) globalOptionSets() []map[string]any {
	seen := map[string]bool{}
	var out []map[string]any
	for _, t := range s.reg.Tables() {
		for i := range t.Columns {
			c := &t.Columns[i]
			if c.GlobalOptionSet == "" || seen[c.GlobalOptionSet] {
				continue
			}
			seen[c.GlobalOptionSet] = true
			var opts []any
			for _, o := range c.Options {
				opts = append(opts, map[string]any{"Value": o.Value, "Label": label(o.Label)})
			}
			display := c.DisplayName
			if display == "" {
				display = c.GlobalOptionSet
			}
			out = append(out, map[string]any{
				"@odata.type":       "#Microsoft.Dynamics.CRM.OptionSetMetadata",
				"MetadataId":        metadataID("optionset", c.GlobalOptionSet),
				"Name":              c.GlobalOptionSet,
				"IsGlobal":          true,
				"IsCustomOptionSet": false,
				"OptionSetType":     "Picklist",
				"DisplayName":       label(display),
				"Options":           opts,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["Name"].(string) < out[j]["Name"].(string) })
	return out
}

// globalOptionSetDefinitions serves GlobalOptionSetDefinitions and
// GlobalOptionSetDefinitions(Name='x') (query-metadata-web-api.md,
// "Retrieve global choices").
func (s *Server) globalOptionSetDefinitions(w http.ResponseWriter, r *http.Request, keyText string, hasKey bool, rest []string) {
	if r.Method != http.MethodGet {
		writeError(w, methodNotAllowed(r.Method, "GlobalOptionSetDefinitions"))
		return
	}
	if len(rest) > 0 {
		writeError(w, notFoundSegment(rest[0]))
		return
	}
	q, err := s.parseQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	base := baseURL(r)
	all := s.globalOptionSets()
	if hasKey {
		want := strings.Trim(strings.TrimPrefix(keyText, "Name="), "'")
		for _, m := range all {
			if m["Name"] == want || m["MetadataId"] == strings.ToLower(keyText) {
				m = project(m, q.Select, nil, "MetadataId", "@odata.type")
				m["@odata.context"] = base + "$metadata#GlobalOptionSetDefinitions/$entity"
				writeMetadataObject(w, m)
				return
			}
		}
		writeError(w, newError(http.StatusNotFound, codeObjectDoesNotExist, "Could not find optionset %s.", keyText))
		return
	}
	var items []map[string]any
	for _, m := range all {
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
		items = append(items, project(m, q.Select, nil, "MetadataId", "@odata.type"))
	}
	writeMetadataCollection(w, base+"$metadata#GlobalOptionSetDefinitions", items)
}

// csdlOperations declares in $metadata every action and function the
// server implements, with the complex types they return, so generated
// clients can call them (the Web API reference pages of each message under
// powerapps-docs developer/data-platform/webapi/reference/).
func (s *Server) csdlOperations(b *strings.Builder) {
	has := func(name string) bool { _, ok := s.reg.Table(name); return ok }
	b.WriteString(`<ComplexType Name="EntityRecordCountCollection"><Property Name="Count" Type="Edm.Int32" Nullable="false"/><Property Name="IsReadOnly" Type="Edm.Boolean" Nullable="false"/><Property Name="Keys" Type="Collection(Edm.String)"/><Property Name="Values" Type="Collection(Edm.Int64)"/></ComplexType>`)
	b.WriteString(`<ComplexType Name="RetrieveTotalRecordCountResponse"><Property Name="EntityRecordCountCollection" Type="mscrm.EntityRecordCountCollection"/></ComplexType>`)
	b.WriteString(`<ComplexType Name="RetrieveVersionResponse"><Property Name="Version" Type="Edm.String"/></ComplexType>`)
	b.WriteString(`<Function Name="RetrieveTotalRecordCount"><Parameter Name="EntityNames" Type="Collection(Edm.String)" Nullable="false"/><ReturnType Type="mscrm.RetrieveTotalRecordCountResponse" Nullable="false"/></Function>`)
	b.WriteString(`<Function Name="RetrieveVersion"><ReturnType Type="mscrm.RetrieveVersionResponse" Nullable="false"/></Function>`)
	// The bulk messages are actions bound to an entity set
	// (bulk-operations.md): POST /<set>/Microsoft.Dynamics.CRM.CreateMultiple.
	b.WriteString(`<Action Name="CreateMultiple" IsBound="true"><Parameter Name="entityset" Type="Collection(mscrm.crmbaseentity)" Nullable="false"/><Parameter Name="Targets" Type="Collection(mscrm.crmbaseentity)" Nullable="false"/><ReturnType Type="mscrm.CreateMultipleResponse" Nullable="false"/></Action>`)
	b.WriteString(`<Action Name="UpdateMultiple" IsBound="true"><Parameter Name="entityset" Type="Collection(mscrm.crmbaseentity)" Nullable="false"/><Parameter Name="Targets" Type="Collection(mscrm.crmbaseentity)" Nullable="false"/></Action>`)
	b.WriteString(`<Action Name="UpsertMultiple" IsBound="true"><Parameter Name="entityset" Type="Collection(mscrm.crmbaseentity)" Nullable="false"/><Parameter Name="Targets" Type="Collection(mscrm.crmbaseentity)" Nullable="false"/></Action>`)
	if has("incidentresolution") {
		b.WriteString(`<Action Name="CloseIncident"><Parameter Name="IncidentResolution" Type="mscrm.incidentresolution" Nullable="false"/><Parameter Name="Status" Type="Edm.Int32" Nullable="false"/></Action>`)
	}
	if has("entitlement") {
		b.WriteString(`<ComplexType Name="RenewEntitlementResponse"><NavigationProperty Name="Entity" Type="mscrm.entitlement"/></ComplexType>`)
		b.WriteString(`<Action Name="RenewEntitlement"><Parameter Name="EntitlementId" Type="Edm.Guid" Nullable="false"/><Parameter Name="Status" Type="Edm.Int32" Nullable="false"/><ReturnType Type="mscrm.RenewEntitlementResponse" Nullable="false"/></Action>`)
	}
	if has("knowledgearticle") {
		b.WriteString(`<Action Name="CreateKnowledgeArticleVersion"><Parameter Name="Source" Type="mscrm.knowledgearticle" Nullable="false"/><Parameter Name="IsMajor" Type="Edm.Boolean" Nullable="false"/><ReturnType Type="mscrm.knowledgearticle" Nullable="false"/></Action>`)
		if has("languagelocale") {
			b.WriteString(`<Action Name="CreateKnowledgeArticleTranslation"><Parameter Name="Source" Type="mscrm.knowledgearticle" Nullable="false"/><Parameter Name="Language" Type="mscrm.languagelocale" Nullable="false"/><Parameter Name="IsMajor" Type="Edm.Boolean" Nullable="false"/><ReturnType Type="mscrm.knowledgearticle" Nullable="false"/></Action>`)
		}
	}
}

// csdlImports declares the unbound operations in the entity container.
func (s *Server) csdlImports(b *strings.Builder) {
	b.WriteString(`<FunctionImport Name="RetrieveTotalRecordCount" Function="Microsoft.Dynamics.CRM.RetrieveTotalRecordCount"/>`)
	b.WriteString(`<FunctionImport Name="RetrieveVersion" Function="Microsoft.Dynamics.CRM.RetrieveVersion"/>`)
	for _, a := range []struct{ name, table string }{
		{"CloseIncident", "incidentresolution"},
		{"RenewEntitlement", "entitlement"},
		{"CreateKnowledgeArticleVersion", "knowledgearticle"},
		{"CreateKnowledgeArticleTranslation", "languagelocale"},
	} {
		if _, ok := s.reg.Table(a.table); ok {
			fmt.Fprintf(b, `<ActionImport Name="%s" Action="Microsoft.Dynamics.CRM.%s"/>`, a.name, a.name)
		}
	}
}

// csdlCollectionNavigation declares the collection-valued navigation
// properties of t: one per one-to-many relationship it is referenced by,
// and one per N:N relationship it takes part in, each with its partner.
func (s *Server) csdlCollectionNavigation(b *strings.Builder, t *schema.Table, bindings bool) {
	for _, rel := range s.reg.OneToManyRelationships() {
		if rel.ReferencedEntity != t.LogicalName {
			continue
		}
		ref, _ := s.reg.Table(rel.ReferencingEntity)
		if bindings {
			fmt.Fprintf(b, `<NavigationPropertyBinding Path="%s" Target="%s"/>`, rel.SchemaName, ref.EntitySetName)
			continue
		}
		partner := ""
		if col, _ := ref.Column(rel.ReferencingAttribute); col.Type != schema.TypeOwner {
			partner = ` Partner="` + rel.ReferencingNavigation + `"`
		}
		fmt.Fprintf(b, `<NavigationProperty Name="%s" Type="Collection(mscrm.%s)"%s/>`, rel.SchemaName, rel.ReferencingEntity, partner)
	}
	for _, rel := range s.reg.ManyToManyRelationships() {
		other := ""
		switch t.LogicalName {
		case rel.Entity1:
			other = rel.Entity2
		case rel.Entity2:
			other = rel.Entity1
		default:
			continue
		}
		ot, ok := s.reg.Table(other)
		if !ok {
			continue
		}
		if bindings {
			fmt.Fprintf(b, `<NavigationPropertyBinding Path="%s" Target="%s"/>`, rel.SchemaName, ot.EntitySetName)
			continue
		}
		fmt.Fprintf(b, `<NavigationProperty Name="%s" Type="Collection(mscrm.%s)" Partner="%s"/>`, rel.SchemaName, other, rel.SchemaName)
	}
}
