package schema

import (
	"sort"
	"strings"
)

// OneToMany is a one-to-many relationship: every lookup column declares one
// per target. Seen from the referenced (one) table it is a collection-valued
// navigation property named after the relationship (contact_customer_accounts
// on account); seen from the referencing table it is the lookup's
// single-valued navigation property (parentcustomerid_account on contact).
// See powerapps-docs developer/data-platform/webapi/web-api-navigation-properties.md
// and the "One-to-Many relationships" sections of the table reference pages.
type OneToMany struct {
	SchemaName           string
	ReferencedEntity     string
	ReferencedAttribute  string // the referenced table's primary key
	ReferencingEntity    string
	ReferencingAttribute string // the lookup column
	// ReferencingNavigation is the single-valued navigation property on the
	// referencing table (the lookup name, or <lookup>_<target>).
	ReferencingNavigation string
	// Generated is true when the name is not a documented one (see
	// documentedOneToMany): dvsync names it <referenced>_<referencing>_<lookup>.
	Generated bool
}

// documentedOneToMany maps referencing.lookup.target to the relationship
// schema name Dataverse uses, as the table reference pages list them
// (powerapps-docs developer/data-platform/reference/entities/<table>.md and
// dynamics-365-customer-engagement ce/developer/reference/entities/<table>.md).
var documentedOneToMany = map[string]string{
	"account.parentaccountid.account":              "account_parent_account",
	"account.primarycontactid.contact":             "account_primary_contact",
	"account.masterid.account":                     "account_master_account",
	"contact.parentcustomerid.account":             "contact_customer_accounts",
	"contact.parentcustomerid.contact":             "contact_customer_contacts",
	"contact.masterid.contact":                     "contact_master_contact",
	"incident.customerid.account":                  "incident_customer_accounts",
	"incident.customerid.contact":                  "incident_customer_contacts",
	"incident.parentcaseid.incident":               "incident_parent_incident",
	"incident.masterid.incident":                   "incident_master_incident",
	"incident.primarycontactid.contact":            "contact_as_primary_contact",
	"incident.entitlementid.entitlement":           "entitlement_cases",
	"incident.productid.product":                   "product_incidents",
	"incident.subjectid.subject":                   "subject_incidents",
	"annotation.objectid.account":                  "Account_Annotation",
	"annotation.objectid.contact":                  "Contact_Annotation",
	"annotation.objectid.incident":                 "Incident_Annotation",
	"annotation.objectid.knowledgearticle":         "KnowledgeArticle_Annotation",
	"annotation.objectid.sla":                      "SLA_Annotation",
	"queueitem.queueid.queue":                      "queue_entries",
	"incidentresolution.incidentid.incident":       "Incident_IncidentResolutions",
	"entitlementchannel.entitlementid.entitlement": "entitlement_entitlementchannel",
	"entitlement.customerid.account":               "entitlement_customer_accounts",
	"entitlement.customerid.contact":               "entitlement_customer_contacts",
}

// OneToManyRelationships lists every one-to-many relationship the declared
// lookups imply, sorted by schema name. The slice is shared: do not modify it.
func (r *Registry) OneToManyRelationships() []OneToMany {
	r.mu.RLock()
	cached := r.oneToMany
	r.mu.RUnlock()
	if cached != nil {
		return cached
	}
	out := r.buildOneToMany()
	r.mu.Lock()
	r.oneToMany = out
	r.mu.Unlock()
	return out
}

func (r *Registry) buildOneToMany() []OneToMany {
	out := []OneToMany{}
	for _, t := range r.Tables() {
		for i := range t.Columns {
			c := &t.Columns[i]
			if !c.Type.IsLookup() {
				continue
			}
			for _, target := range c.Targets {
				rt, ok := r.Table(target)
				if !ok {
					continue
				}
				rel := OneToMany{
					ReferencedEntity: target, ReferencedAttribute: rt.PrimaryID,
					ReferencingEntity: t.LogicalName, ReferencingAttribute: c.LogicalName,
					ReferencingNavigation: c.NavigationProperty(target),
				}
				if name, ok := documentedOneToMany[t.LogicalName+"."+c.LogicalName+"."+target]; ok {
					rel.SchemaName = name
				} else {
					rel.SchemaName = target + "_" + t.LogicalName + "_" + c.LogicalName
					rel.Generated = true
				}
				out = append(out, rel)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SchemaName < out[j].SchemaName })
	return out
}

// OneToManyFor finds the collection-valued navigation property nav of the
// referenced table (case-sensitive, as Dataverse names are).
func (r *Registry) OneToManyFor(referenced, nav string) (OneToMany, bool) {
	for _, rel := range r.OneToManyRelationships() {
		if rel.ReferencedEntity == referenced && rel.SchemaName == nav {
			return rel, true
		}
	}
	return OneToMany{}, false
}

// OneToManyByName finds a relationship by schema name, case-insensitively
// as RelationshipDefinitions(SchemaName='...') matches.
func (r *Registry) OneToManyByName(name string) (OneToMany, bool) {
	for _, rel := range r.OneToManyRelationships() {
		if strings.EqualFold(rel.SchemaName, name) {
			return rel, true
		}
	}
	return OneToMany{}, false
}

// systemIntersects names the intersect tables of system N:N relationships
// whose name differs from the relationship's (join-tables.md uses
// teammembership for teammembership_association). Custom N:N relationships
// use their schema name in lower case.
var systemIntersects = map[string]string{
	"teammembership_association": "teammembership",
}

// IntersectEntity is the logical name of the intersect table that holds
// the pairs of an N:N relationship; FetchXML joins through it with
// <link-entity … intersect="true">.
func (m ManyToMany) IntersectEntity() string {
	if n, ok := systemIntersects[m.SchemaName]; ok {
		return n
	}
	return strings.ToLower(m.SchemaName)
}

// ManyToManyByIntersect finds an N:N relationship by its intersect table.
func (r *Registry) ManyToManyByIntersect(name string) (ManyToMany, bool) {
	for _, rel := range r.ManyToManyRelationships() {
		if rel.IntersectEntity() == name {
			return rel, true
		}
	}
	return ManyToMany{}, false
}
