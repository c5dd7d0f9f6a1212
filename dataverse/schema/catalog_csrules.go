package schema

// Tables and relationships the Customer Service engine of the reference
// server reads: the rules of a customer service schedule (calendarrule) and
// the products and contacts an entitlement is limited to.
func init() { registerTableSet(csRuleTables) }

func csRuleTables() ([]*Table, []ManyToMany) {
	// calendarrule follows [PA] calendarrule.md (ObjectTypeCode 4004):
	// "Defines free/busy times for a service and for resources or resource
	// groups, such as working, non-working, vacation, and blocked." A
	// customer service schedule is a calendar with a weekly rule
	// (pattern FREQ=WEEKLY;BYDAY=...) whose innercalendarid holds the day's
	// working time (offset and duration in minutes, timecode 0 Available);
	// a holiday schedule is a calendar of rules with starttime and duration.
	rule := &Table{
		LogicalName: "calendarrule", EntitySetName: "calendarrules", DisplayName: "Calendar Rule",
		PrimaryID: "calendarruleid", PrimaryName: "name", OwnershipType: "None", ObjectTypeCode: 4004,
		Columns: csColumns([]Column{
			csPrimaryKey("calendarruleid", "Calendar Rule"),
			csString("name", "Name", 160, RequiredNone),
			csString("description", "Description", 100, RequiredNone),
			csLookup("calendarid", "Calendar", RequiredSystem, "calendar"),
			csLookup("innercalendarid", "Inner Calendar", RequiredNone, "calendar"),
			csString("pattern", "Pattern", 256, RequiredNone),
			csInteger("offset", "Offset", -2147483648, 2147483647),
			csInteger("duration", "Duration", 0, 2147483647),
			csDateTime("starttime", "Start"),
			csDateTime("endtime", "End"),
			csDateTime("effectiveintervalstart", "Effective Interval Start"),
			csDateTime("effectiveintervalend", "Effective Interval End"),
			csInteger("timecode", "Time Code", 0, 2147483647),
			csInteger("subcode", "Sub Code", 0, 2147483647),
			csInteger("rank", "Rank", 0, 2147483647),
			csInteger("extentcode", "Extent Code", 0, 2147483647),
			csInteger("timezonecode", "Time Zone Code", -1, 2147483647),
			csBoolean("issimple", "Is Simple", false),
			csBoolean("isvaried", "Is Varied", false),
		}, csAuditColumns(false)),
	}
	return []*Table{rule}, []ManyToMany{
		// [CE] entitlement.md: N:N entitlementproducts_association (the
		// products an entitlement covers; none means every product) and
		// entitlementcontacts_association (the contacts allowed to claim it;
		// none means every contact of the customer).
		{SchemaName: "entitlementproducts_association", Entity1: "entitlement", Entity2: "product"},
		{SchemaName: "entitlementcontacts_association", Entity1: "entitlement", Entity2: "contact"},
	}
}
