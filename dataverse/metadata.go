package dataverse

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/dvsync/dvsync/dataverse/schema"
)

type metadataCache struct {
	mu     sync.Mutex
	tables map[string]*schema.Table // by logical name and by entity set name
}

func newMetadataCache() *metadataCache {
	return &metadataCache{tables: map[string]*schema.Table{}}
}

func (m *metadataCache) get(name string) (*schema.Table, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tables[name]
	return t, ok
}

func (m *metadataCache) put(t *schema.Table) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tables[t.LogicalName] = t
	m.tables[t.EntitySetName] = t
}

// Table resolves a table by logical name ("incident") or entity set name
// ("incidents"): from the client's schema registry first, otherwise from the
// server's EntityDefinitions (cached for the client's lifetime).
func (c *Client) Table(ctx context.Context, name string) (*schema.Table, error) {
	if t, ok := c.meta.get(name); ok {
		return t, nil
	}
	if t, ok := c.reg.Table(name); ok {
		return t, nil
	}
	if t, ok := c.reg.TableBySet(name); ok {
		return t, nil
	}
	return c.DiscoverTable(ctx, name)
}

// entityDefinition is the subset of EntityMetadata dvsync reads.
type entityDefinition struct {
	LogicalName           string `json:"LogicalName"`
	EntitySetName         string `json:"EntitySetName"`
	PrimaryIDAttribute    string `json:"PrimaryIdAttribute"`
	PrimaryNameAttribute  string `json:"PrimaryNameAttribute"`
	ChangeTrackingEnabled *bool  `json:"ChangeTrackingEnabled"`
	ObjectTypeCode        *int   `json:"ObjectTypeCode"`
	Attributes            []struct {
		LogicalName      string   `json:"LogicalName"`
		AttributeType    string   `json:"AttributeType"`
		Targets          []string `json:"Targets"`
		IsValidForCreate *bool    `json:"IsValidForCreate"`
		IsValidForUpdate *bool    `json:"IsValidForUpdate"`
	} `json:"Attributes"`
	// Keys is nil when the server ignored $expand=Keys.
	Keys *[]entityKey `json:"Keys"`
}

type entityKey struct {
	LogicalName   string   `json:"LogicalName"`
	KeyAttributes []string `json:"KeyAttributes"`
}

// DiscoverTable reads a table definition from EntityDefinitions: entity set
// name, primary key and name, columns with types, alternate keys and the
// change-tracking flag. name may be a logical name or an entity set name.
// Source: powerapps-docs developer/data-platform/webapi/query-metadata-web-api.md.
func (c *Client) DiscoverTable(ctx context.Context, name string) (*schema.Table, error) {
	if err := checkProperty(name); err != nil {
		return nil, err
	}
	if t, ok := c.meta.get(name); ok {
		return t, nil
	}
	const sel = "$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,ChangeTrackingEnabled,ObjectTypeCode" +
		"&$expand=Attributes($select=LogicalName,AttributeType,IsValidForCreate,IsValidForUpdate),Keys($select=LogicalName,KeyAttributes)"
	var def entityDefinition
	lit, _ := Literal(name)
	_, err := c.doJSON(ctx, request{method: http.MethodGet, path: "EntityDefinitions(LogicalName=" + escapeQuery(lit) + ")", query: sel}, &def)
	if IsNotFound(err) {
		// Maybe an entity set name.
		var list struct {
			Value []entityDefinition `json:"value"`
		}
		q := sel + "&$filter=" + escapeQuery(Eq("EntitySetName", name).String())
		if _, err2 := c.doJSON(ctx, request{method: http.MethodGet, path: "EntityDefinitions", query: q}, &list); err2 != nil || len(list.Value) == 0 {
			return nil, fmt.Errorf("dataverse: no table named %q: %w", name, err)
		}
		def, err = list.Value[0], nil
	}
	if err != nil {
		return nil, err
	}
	t := &schema.Table{
		LogicalName:   def.LogicalName,
		EntitySetName: def.EntitySetName,
		PrimaryID:     def.PrimaryIDAttribute,
		PrimaryName:   def.PrimaryNameAttribute,
	}
	if def.ChangeTrackingEnabled != nil {
		t.ChangeTracking = *def.ChangeTrackingEnabled
	}
	if def.ObjectTypeCode != nil {
		t.ObjectTypeCode = *def.ObjectTypeCode
	}
	var lookups []string
	for _, a := range def.Attributes {
		col := schema.Column{LogicalName: a.LogicalName, Type: schema.ColumnType(a.AttributeType), Targets: a.Targets}
		if a.IsValidForCreate != nil && a.IsValidForUpdate != nil && !*a.IsValidForCreate && !*a.IsValidForUpdate {
			col.ReadOnly = true
		}
		if col.Type.IsLookup() && len(col.Targets) == 0 {
			lookups = append(lookups, a.LogicalName)
		}
		t.Columns = append(t.Columns, col)
	}
	if def.Keys == nil {
		// Keys is also addressable as a navigation property.
		var list struct {
			Value []entityKey `json:"value"`
		}
		path := "EntityDefinitions(LogicalName=" + escapeQuery(lit) + ")/Keys"
		if _, err := c.doJSON(ctx, request{method: http.MethodGet, path: path, query: "$select=LogicalName,KeyAttributes"}, &list); err != nil {
			return nil, fmt.Errorf("dataverse: reading alternate keys of %s: %w", def.LogicalName, err)
		}
		def.Keys = &list.Value
	}
	for _, k := range *def.Keys {
		t.AlternateKeys = append(t.AlternateKeys, schema.AlternateKey{Name: k.LogicalName, Columns: k.KeyAttributes})
	}
	if len(lookups) > 0 {
		// Targets live on LookupAttributeMetadata only; a cast segment reads
		// them (query-metadata-web-api.md, "Retrieving attributes").
		var list struct {
			Value []struct {
				LogicalName string   `json:"LogicalName"`
				Targets     []string `json:"Targets"`
			} `json:"value"`
		}
		path := "EntityDefinitions(LogicalName=" + escapeQuery(lit) + ")/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata"
		if _, err := c.doJSON(ctx, request{method: http.MethodGet, path: path, query: "$select=LogicalName,Targets"}, &list); err == nil {
			targets := map[string][]string{}
			for _, v := range list.Value {
				targets[v.LogicalName] = v.Targets
			}
			for i := range t.Columns {
				if ts, ok := targets[t.Columns[i].LogicalName]; ok && len(t.Columns[i].Targets) == 0 {
					t.Columns[i].Targets = ts
				}
			}
		}
	}
	if t.LogicalName == "" || t.EntitySetName == "" || t.PrimaryID == "" {
		return nil, fmt.Errorf("dataverse: EntityDefinitions for %q lacks LogicalName, EntitySetName or PrimaryIdAttribute", name)
	}
	c.meta.put(t)
	return t, nil
}

// entitySet returns the entity set name for a table name.
func (c *Client) entitySet(ctx context.Context, table string) (*schema.Table, error) {
	t, err := c.Table(ctx, table)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(t.EntitySetName) == "" {
		return nil, fmt.Errorf("dataverse: table %s has no entity set name", t.LogicalName)
	}
	return t, nil
}

// WhoAmI calls the WhoAmI function; it is also how the client first learns
// x-ms-dop-hint (send-parallel-requests.md).
func (c *Client) WhoAmI(ctx context.Context) (userID, orgID string, err error) {
	var out struct {
		UserID         string `json:"UserId"`
		OrganizationID string `json:"OrganizationId"`
	}
	if _, err := c.doJSON(ctx, request{method: http.MethodGet, path: "WhoAmI"}, &out); err != nil {
		return "", "", err
	}
	return out.UserID, out.OrganizationID, nil
}
