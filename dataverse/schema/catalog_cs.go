package schema

// Customer Service table catalogue: the Dynamics 365 Customer Service tables
// dvsync reads and writes, plus the small platform tables they look up to.
//
// Sources. Each table cites the Microsoft table reference page it follows:
//
//	[CE]  github.com/MicrosoftDocs/dynamics-365-customer-engagement
//	      ce/developer/reference/entities/<logicalname>.md
//	[PA]  github.com/MicrosoftDocs/powerapps-docs
//	      powerapps-docs/developer/data-platform/reference/entities/<logicalname>.md
//	[R8]  shared/research/dataverse.md section 8 (digest of the pages above)
//
// Only the columns a migration, sync or comparison needs are declared; real
// tables have many more (address2_*, yomi names, currency columns...). Money
// columns are deliberately left out because they drag in transactioncurrency
// and _transactioncurrencyid_value handling.
//
// Required levels are the metadata values (AttributeRequiredLevel), not a
// rule of "the client must send it": SystemRequired columns such as the
// primary key, ownerid and statecode are filled by the platform on create
// (new GUID, calling user, DefaultValue of the State column) before required
// columns are checked.
//
// Alternate keys: Dataverse defines none of these by default. dvsync declares
// them so that upserts and cross-system matching have a natural key; a real
// environment must define the same keys (Settings > Tables > Keys, or
// EntityKeyMetadata) before jobs that rely on them run there.

func init() { registerTableSet(csTables) }

// csTables returns fresh definitions of every Customer Service table, in an
// order where each lookup target is declared before (or by) the table that
// refers to it where that is possible.
func csTables() ([]*Table, []ManyToMany) {
	return []*Table{
			csBusinessUnit(),
			csSystemUser(),
			csTeam(),
			csCalendar(),
			csLanguageLocale(),
			csSubject(),
			csAccount(),
			csContact(),
			csProduct(),
			csQueue(),
			csSLA(),
			csSLAKPI(),
			csSLAItem(),
			csEntitlementTemplate(),
			csEntitlement(),
			csEntitlementChannel(),
			csIncident(),
			csSLAKPIInstance(),
			csKnowledgeArticle(),
			csQueueItem(),
			csAnnotation(),
		}, []ManyToMany{
			// [PA] systemuser.md / team.md: N:N teammembership_association.
			{SchemaName: "teammembership_association", Entity1: "systemuser", Entity2: "team"},
		}
}

// ---- column helpers -------------------------------------------------------

func csIntPtr(v int) *int                  { return &v }
func csFloatPtr(v float64) *float64        { return &v }
func csOpt(value int, label string) Option { return Option{Value: value, Label: label} }

// csStateOpt is a statecode option with the statuscode used when a client
// sets only the state.
func csStateOpt(value int, label string, defaultStatus int) Option {
	return Option{Value: value, Label: label, DefaultStatus: csIntPtr(defaultStatus)}
}

// csStatusOpt is a statuscode option valid in the given state.
func csStatusOpt(value int, label string, state int) Option {
	return Option{Value: value, Label: label, State: csIntPtr(state)}
}

// csPrimaryKey is the Uniqueidentifier primary key: settable on create (so
// migrations keep source IDs), never afterwards.
func csPrimaryKey(name, display string) Column {
	return Column{LogicalName: name, Type: TypeUniqueidentifier, DisplayName: display, Required: RequiredSystem, CreateOnly: true}
}

func csGUID(name, display string) Column {
	return Column{LogicalName: name, Type: TypeUniqueidentifier, DisplayName: display}
}

func csString(name, display string, maxLength int, req RequiredLevel) Column {
	return Column{LogicalName: name, Type: TypeString, DisplayName: display, MaxLength: maxLength, Required: req}
}

func csMemo(name, display string, maxLength int, req RequiredLevel) Column {
	return Column{LogicalName: name, Type: TypeMemo, DisplayName: display, MaxLength: maxLength, Required: req}
}

func csInteger(name, display string, minValue, maxValue float64) Column {
	return Column{LogicalName: name, Type: TypeInteger, DisplayName: display, MinValue: csFloatPtr(minValue), MaxValue: csFloatPtr(maxValue)}
}

func csDecimal(name, display string, precision int, minValue, maxValue float64) Column {
	return Column{LogicalName: name, Type: TypeDecimal, DisplayName: display, Precision: precision, MinValue: csFloatPtr(minValue), MaxValue: csFloatPtr(maxValue)}
}

// csBoolean declares a two-option column with its metadata default.
func csBoolean(name, display string, defaultValue bool) Column {
	return Column{LogicalName: name, Type: TypeBoolean, DisplayName: display, DefaultValue: defaultValue}
}

func csDateTime(name, display string) Column {
	return Column{LogicalName: name, Type: TypeDateTime, DisplayName: display}
}

func csDateOnly(name, display string, req RequiredLevel) Column {
	return Column{LogicalName: name, Type: TypeDateOnly, DisplayName: display, Required: req}
}

// csLookup declares a lookup. With more than one target the navigation
// properties are <name>_<target> (objectid_incident); the first target is
// listed first in metadata.
func csLookup(name, display string, req RequiredLevel, targets ...string) Column {
	return Column{LogicalName: name, Type: TypeLookup, DisplayName: display, Required: req, Targets: targets}
}

// csCustomer declares a Customer-type lookup: account first, then contact,
// as Dataverse lists them (customerid_account, customerid_contact).
func csCustomer(name, display string, req RequiredLevel) Column {
	return Column{LogicalName: name, Type: TypeCustomer, DisplayName: display, Required: req, Targets: []string{"account", "contact"}}
}

func csPicklist(name, display string, req RequiredLevel, options ...Option) Column {
	return Column{LogicalName: name, Type: TypePicklist, DisplayName: display, Required: req, Options: options}
}

// csWithDefault sets the value applied on create when the column is absent.
func csWithDefault(c Column, v any) Column { c.DefaultValue = v; return c }

// csReadOnly marks a column the platform maintains.
func csReadOnly(c Column) Column { c.ReadOnly = true; c.CreateOnly = false; return c }

// csCreateOnly marks a column that can be set on create but not updated.
func csCreateOnly(c Column) Column { c.CreateOnly = true; return c }

func csGlobal(c Column, optionSet string) Column { c.GlobalOptionSet = optionSet; return c }

// csAuditColumns are the columns every table has: created/modified stamps
// and users, the row version behind @odata.etag, and, where the table
// supports record migration, overriddencreatedon ("Record Created On",
// writable on create only).
func csAuditColumns(overriddenCreatedOn bool) []Column {
	cols := []Column{
		csReadOnly(csDateTime("createdon", "Created On")),
		csReadOnly(csDateTime("modifiedon", "Modified On")),
		csReadOnly(csLookup("createdby", "Created By", RequiredNone, "systemuser")),
		csReadOnly(csLookup("modifiedby", "Modified By", RequiredNone, "systemuser")),
		csReadOnly(csLookup("createdonbehalfby", "Created By (Delegate)", RequiredNone, "systemuser")),
		csReadOnly(csLookup("modifiedonbehalfby", "Modified By (Delegate)", RequiredNone, "systemuser")),
		csReadOnly(Column{LogicalName: "versionnumber", Type: TypeBigInt, DisplayName: "Version Number"}),
	}
	if overriddenCreatedOn {
		cols = append(cols, csCreateOnly(csDateTime("overriddencreatedon", "Record Created On")))
	}
	return cols
}

// csOwnerColumns are the ownership columns of user- or team-owned tables.
// ownerReq is the RequiredLevel of ownerid on that table (SystemRequired on
// most, None on entitlementchannel, ApplicationRequired on slaitem).
func csOwnerColumns(ownerReq RequiredLevel) []Column {
	return []Column{
		{LogicalName: "ownerid", Type: TypeOwner, DisplayName: "Owner", Required: ownerReq, Targets: []string{"systemuser", "team"}},
		csReadOnly(csLookup("owningbusinessunit", "Owning Business Unit", RequiredNone, "businessunit")),
		csReadOnly(csLookup("owninguser", "Owning User", RequiredNone, "systemuser")),
		csReadOnly(csLookup("owningteam", "Owning Team", RequiredNone, "team")),
	}
}

// csStateStatus declares statecode (SystemRequired, defaulting to
// defaultState) and statuscode. Each state option names its default status;
// each status option names its state.
func csStateStatus(defaultState int, states []Option, statuses []Option) []Column {
	return []Column{
		{LogicalName: "statecode", Type: TypeState, DisplayName: "Status", Required: RequiredSystem, Options: states, DefaultValue: defaultState},
		{LogicalName: "statuscode", Type: TypeStatus, DisplayName: "Status Reason", Options: statuses},
	}
}

// csActiveInactive is the common two-state pair: 0 Active (status 1
// Active), 1 Inactive (status 2 Inactive).
func csActiveInactive() []Column {
	return csStateStatus(0,
		[]Option{csStateOpt(0, "Active", 1), csStateOpt(1, "Inactive", 2)},
		[]Option{csStatusOpt(1, "Active", 0), csStatusOpt(2, "Inactive", 1)})
}

func csColumns(groups ...[]Column) []Column {
	var out []Column
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// ---- shared choices -------------------------------------------------------

// csCaseOriginOptions is the global choice incident_caseorigincode, shared by
// incident.caseorigincode and entitlementchannel.channel ([CE] incident.md,
// entitlementchannel.md).
func csCaseOriginOptions() []Option {
	return []Option{
		csOpt(1, "Phone"), csOpt(2, "Email"), csOpt(3, "Web"),
		csOpt(2483, "Facebook"), csOpt(3986, "Twitter"), csOpt(700610000, "IoT"),
	}
}

func csPreferredContactMethodOptions() []Option {
	return []Option{csOpt(1, "Any"), csOpt(2, "Email"), csOpt(3, "Phone"), csOpt(4, "Fax"), csOpt(5, "Mail")}
}

// csEntitlementTermsColumns are shared by entitlement and
// entitlementtemplate ([CE] entitlement.md, entitlementtemplate.md).
func csEntitlementTermsColumns() []Column {
	return []Column{
		csWithDefault(csPicklist("allocationtypecode", "Allocation Type", RequiredApplication,
			csOpt(0, "Number of cases"), csOpt(1, "Number of hours")), 0),
		csWithDefault(csPicklist("decreaseremainingon", "Decrease Remaining On", RequiredApplication,
			csOpt(0, "Case Resolution"), csOpt(1, "Case Creation")), 0),
		csDecimal("totalterms", "Total Terms", 2, 0, 100000000000),
		csWithDefault(Column{LogicalName: "restrictcasecreation", Type: TypeBoolean, DisplayName: "Restrict based on entitlement terms", Required: RequiredApplication}, false),
		csWithDefault(csPicklist("kbaccesslevel", "KB Access Level", RequiredNone,
			csOpt(0, "Standard"), csOpt(1, "Premium"), csOpt(2, "None")), 0),
		csLookup("slaid", "SLA", RequiredNone, "sla"),
	}
}

func csAddress1Columns() []Column {
	return []Column{
		csString("address1_line1", "Address 1: Street 1", 250, RequiredNone),
		csString("address1_line2", "Address 1: Street 2", 250, RequiredNone),
		csString("address1_city", "Address 1: City", 80, RequiredNone),
		csString("address1_stateorprovince", "Address 1: State/Province", 50, RequiredNone),
		csString("address1_postalcode", "Address 1: ZIP/Postal Code", 20, RequiredNone),
		csString("address1_country", "Address 1: Country/Region", 80, RequiredNone),
		csString("address1_telephone1", "Address 1: Phone", 50, RequiredNone),
	}
}

// ---- platform tables ------------------------------------------------------

// csBusinessUnit follows [PA] businessunit.md (ObjectTypeCode 10).
func csBusinessUnit() *Table {
	return &Table{
		LogicalName: "businessunit", EntitySetName: "businessunits", DisplayName: "Business Unit",
		PrimaryID: "businessunitid", PrimaryName: "name", OwnershipType: "BusinessOwned", ObjectTypeCode: 10,
		Columns: csColumns([]Column{
			csPrimaryKey("businessunitid", "Business Unit"),
			csString("name", "Name", 160, RequiredSystem),
			csLookup("parentbusinessunitid", "Parent Business", RequiredNone, "businessunit"),
			csString("divisionname", "Division", 100, RequiredNone),
			csString("emailaddress", "Email", 100, RequiredNone),
			csString("websiteurl", "Website", 200, RequiredNone),
			csMemo("description", "Description", 2000, RequiredNone),
			csReadOnly(csBoolean("isdisabled", "Is Disabled", false)),
		}, csAuditColumns(true)),
	}
}

// csSystemUser follows [PA] systemuser.md (ObjectTypeCode 8). Users are
// business-owned: businessunitid instead of ownerid, isdisabled instead of
// statecode.
func csSystemUser() *Table {
	return &Table{
		LogicalName: "systemuser", EntitySetName: "systemusers", DisplayName: "User",
		PrimaryID: "systemuserid", PrimaryName: "fullname", OwnershipType: "BusinessOwned", ObjectTypeCode: 8,
		ChangeTracking: true,
		Columns: csColumns([]Column{
			csPrimaryKey("systemuserid", "User"),
			csString("firstname", "First Name", 256, RequiredNone),
			csString("lastname", "Last Name", 256, RequiredNone),
			// fullname is composed by the platform from first and last name.
			csReadOnly(csString("fullname", "Full Name", 200, RequiredNone)),
			csString("internalemailaddress", "Primary Email", 100, RequiredNone),
			csString("domainname", "User Name", 1024, RequiredSystem),
			csLookup("businessunitid", "Business Unit", RequiredSystem, "businessunit"),
			csLookup("parentsystemuserid", "Manager", RequiredNone, "systemuser"),
			csString("title", "Title", 128, RequiredNone),
			csString("jobtitle", "Job Title", 100, RequiredNone),
			csString("mobilephone", "Mobile Phone", 64, RequiredNone),
			csString("address1_telephone1", "Main Phone", 64, RequiredNone),
			csWithDefault(csPicklist("accessmode", "Access Mode", RequiredSystem,
				csOpt(0, "Read-Write"), csOpt(1, "Administrative"), csOpt(2, "Read"),
				csOpt(3, "Support User"), csOpt(4, "Non-interactive"), csOpt(5, "Delegated Admin")), 0),
			csGUID("azureactivedirectoryobjectid", "Azure AD Object ID"),
			csGUID("applicationid", "Application ID"),
			csReadOnly(csBoolean("isdisabled", "Status", false)),
		}, csAuditColumns(true)),
		AlternateKeys: []AlternateKey{{Name: "dvsync_systemuser_internalemailaddress", Columns: []string{"internalemailaddress"}}},
	}
}

// csTeam follows [PA] team.md (ObjectTypeCode 9).
func csTeam() *Table {
	return &Table{
		LogicalName: "team", EntitySetName: "teams", DisplayName: "Team",
		PrimaryID: "teamid", PrimaryName: "name", OwnershipType: "BusinessOwned", ObjectTypeCode: 9,
		ChangeTracking: true,
		Columns: csColumns([]Column{
			csPrimaryKey("teamid", "Team"),
			csString("name", "Team Name", 160, RequiredSystem),
			csLookup("businessunitid", "Business Unit", RequiredSystem, "businessunit"),
			csLookup("administratorid", "Administrator", RequiredSystem, "systemuser"),
			csWithDefault(csPicklist("teamtype", "Team Type", RequiredSystem,
				csOpt(0, "Owner"), csOpt(1, "Access"), csOpt(2, "Security Group"), csOpt(3, "Office Group")), 0),
			csMemo("description", "Description", 2000, RequiredNone),
			csString("emailaddress", "Email", 100, RequiredNone),
			csGUID("azureactivedirectoryobjectid", "Object Id for a group"),
			csLookup("queueid", "Default Queue", RequiredNone, "queue"),
			csReadOnly(csBoolean("isdefault", "Is Default", false)),
		}, csAuditColumns(true)),
	}
}

// csCalendar follows [PA] calendar.md (ObjectTypeCode 4003); sla.businesshoursid
// and slaitem.businesshoursid look up to it. Calendar rules (the actual
// working hours) live in calendarrule, which dvsync does not model.
func csCalendar() *Table {
	return &Table{
		LogicalName: "calendar", EntitySetName: "calendars", DisplayName: "Calendar",
		PrimaryID: "calendarid", PrimaryName: "name", OwnershipType: "BusinessOwned", ObjectTypeCode: 4003,
		Columns: csColumns([]Column{
			csPrimaryKey("calendarid", "Calendar"),
			csString("name", "Name", 160, RequiredNone),
			csMemo("description", "Description", 2000, RequiredNone),
			csWithDefault(csPicklist("type", "Calendar type", RequiredNone,
				csOpt(-1, "Inner Calendar type"), csOpt(0, "Default"), csOpt(1, "Customer Service"), csOpt(2, "Holiday Schedule")), 0),
			csLookup("businessunitid", "Business Unit", RequiredSystem, "businessunit"),
			csBoolean("isshared", "Is Shared", false),
			csLookup("holidayschedulecalendarid", "Holiday Schedule CalendarId", RequiredNone, "calendar"),
		}, csAuditColumns(false)),
	}
}

// csLanguageLocale follows [PA] languagelocale.md (ObjectTypeCode 9957);
// knowledgearticle.languagelocaleid looks up to it.
func csLanguageLocale() *Table {
	return &Table{
		LogicalName: "languagelocale", EntitySetName: "languagelocale", DisplayName: "Language", // singular set name, as in Dataverse
		PrimaryID: "languagelocaleid", PrimaryName: "name", OwnershipType: "OrganizationOwned", ObjectTypeCode: 9957,
		Columns: csColumns([]Column{
			csPrimaryKey("languagelocaleid", "Language"),
			csString("name", "Name", 100, RequiredNone),
			csString("code", "Locale Code", 100, RequiredNone),
			csString("language", "Language", 100, RequiredNone),
			csString("region", "Region", 100, RequiredNone),
			{LogicalName: "localeid", Type: TypeInteger, DisplayName: "Locale Id", Required: RequiredSystem, MinValue: csFloatPtr(0), MaxValue: csFloatPtr(2147483647)},
		}, csActiveInactive(), csAuditColumns(false)),
	}
}

// csSubject follows [PA] subject.md (ObjectTypeCode 129); incident,
// product and knowledgearticle categorise by subject.
func csSubject() *Table {
	return &Table{
		LogicalName: "subject", EntitySetName: "subjects", DisplayName: "Subject",
		PrimaryID: "subjectid", PrimaryName: "title", OwnershipType: "OrganizationOwned", ObjectTypeCode: 129,
		Columns: csColumns([]Column{
			csPrimaryKey("subjectid", "Subject"),
			csString("title", "Title", 500, RequiredSystem),
			csMemo("description", "Description", 2000, RequiredNone),
			csLookup("parentsubject", "Parent Subject", RequiredNone, "subject"),
			csInteger("featuremask", "Feature Mask", 0, 1000000000),
		}, csAuditColumns(false)),
	}
}

// ---- customers and products -----------------------------------------------

// csAccount follows [PA] account.md (ObjectTypeCode 1).
func csAccount() *Table {
	return &Table{
		LogicalName: "account", EntitySetName: "accounts", DisplayName: "Account",
		PrimaryID: "accountid", PrimaryName: "name", OwnershipType: "UserOwned", ObjectTypeCode: 1,
		ChangeTracking: true,
		// CreateMultiple/UpdateMultiple on accounts: Microsoft's bulk-operations
		// article lists "many common standard tables"; accounts/contacts are the
		// tables its Web API examples and community tooling call.
		BulkMessages: true,
		Columns: csColumns([]Column{
			csPrimaryKey("accountid", "Account"),
			csString("name", "Account Name", 160, RequiredApplication),
			csString("accountnumber", "Account Number", 20, RequiredNone),
			csPicklist("accountcategorycode", "Category", RequiredNone, csOpt(1, "Preferred Customer"), csOpt(2, "Standard")),
			csPicklist("customertypecode", "Relationship Type", RequiredNone,
				csOpt(1, "Competitor"), csOpt(2, "Consultant"), csOpt(3, "Customer"), csOpt(4, "Investor"),
				csOpt(5, "Partner"), csOpt(6, "Influencer"), csOpt(7, "Press"), csOpt(8, "Prospect"),
				csOpt(9, "Reseller"), csOpt(10, "Supplier"), csOpt(11, "Vendor"), csOpt(12, "Other")),
			csPicklist("industrycode", "Industry", RequiredNone,
				csOpt(1, "Accounting"), csOpt(2, "Agriculture and Non-petrol Natural Resource Extraction"),
				csOpt(3, "Broadcasting Printing and Publishing"), csOpt(4, "Brokers"), csOpt(5, "Building Supply Retail"),
				csOpt(6, "Business Services"), csOpt(7, "Consulting"), csOpt(8, "Consumer Services"),
				csOpt(9, "Design, Direction and Creative Management"), csOpt(10, "Distributors, Dispatchers and Processors"),
				csOpt(11, "Doctor's Offices and Clinics"), csOpt(12, "Durable Manufacturing"),
				csOpt(13, "Eating and Drinking Places"), csOpt(14, "Entertainment Retail"),
				csOpt(15, "Equipment Rental and Leasing"), csOpt(16, "Financial"), csOpt(17, "Food and Tobacco Processing"),
				csOpt(18, "Inbound Capital Intensive Processing"), csOpt(19, "Inbound Repair and Services"),
				csOpt(20, "Insurance"), csOpt(21, "Legal Services"), csOpt(22, "Non-Durable Merchandise Retail"),
				csOpt(23, "Outbound Consumer Service"), csOpt(24, "Petrochemical Extraction and Distribution"),
				csOpt(25, "Service Retail"), csOpt(26, "SIG Affiliations"), csOpt(27, "Social Services"),
				csOpt(28, "Special Outbound Trade Contractors"), csOpt(29, "Specialty Realty"), csOpt(30, "Transportation"),
				csOpt(31, "Utility Creation and Distribution"), csOpt(32, "Vehicle Retail"), csOpt(33, "Wholesale")),
			csString("emailaddress1", "Email", 100, RequiredNone),
			csString("telephone1", "Main Phone", 50, RequiredNone),
			csString("fax", "Fax", 50, RequiredNone),
			csString("websiteurl", "Website", 200, RequiredNone),
			csInteger("numberofemployees", "Number of Employees", 0, 1000000000),
			csMemo("description", "Description", 2000, RequiredNone),
			csLookup("parentaccountid", "Parent Account", RequiredNone, "account"),
			csLookup("primarycontactid", "Primary Contact", RequiredNone, "contact"),
			csWithDefault(csPicklist("preferredcontactmethodcode", "Preferred Method of Contact", RequiredNone, csPreferredContactMethodOptions()...), 1),
			csBoolean("donotemail", "Do not allow Emails", false),
			csLookup("slaid", "SLA", RequiredNone, "sla"),
		}, csAddress1Columns(), csActiveInactive(), csOwnerColumns(RequiredSystem), csAuditColumns(true)),
		AlternateKeys: []AlternateKey{{Name: "dvsync_account_accountnumber", Columns: []string{"accountnumber"}}},
	}
}

// csContact follows [PA] contact.md (ObjectTypeCode 2).
func csContact() *Table {
	return &Table{
		LogicalName: "contact", EntitySetName: "contacts", DisplayName: "Contact",
		PrimaryID: "contactid", PrimaryName: "fullname", OwnershipType: "UserOwned", ObjectTypeCode: 2,
		ChangeTracking: true,
		BulkMessages:   true, // see csAccount
		Columns: csColumns([]Column{
			csPrimaryKey("contactid", "Contact"),
			csString("firstname", "First Name", 50, RequiredNone),
			csString("middlename", "Middle Name", 50, RequiredNone),
			csString("lastname", "Last Name", 50, RequiredApplication),
			// fullname is composed by the platform ("firstname lastname" by
			// default) and cannot be written.
			csReadOnly(csString("fullname", "Full Name", 160, RequiredNone)),
			csString("salutation", "Salutation", 100, RequiredNone),
			csString("jobtitle", "Job Title", 100, RequiredNone),
			csString("department", "Department", 100, RequiredNone),
			csString("emailaddress1", "Email", 100, RequiredNone),
			csString("emailaddress2", "Email Address 2", 100, RequiredNone),
			csString("telephone1", "Business Phone", 50, RequiredNone),
			csString("mobilephone", "Mobile Phone", 50, RequiredNone),
			csCustomer("parentcustomerid", "Company Name", RequiredNone),
			csMemo("description", "Description", 2000, RequiredNone),
			csPicklist("gendercode", "Gender", RequiredNone, csOpt(1, "Male"), csOpt(2, "Female")),
			csDateOnly("birthdate", "Birthday", RequiredNone),
			csWithDefault(csPicklist("preferredcontactmethodcode", "Preferred Method of Contact", RequiredNone, csPreferredContactMethodOptions()...), 1),
			csBoolean("donotemail", "Do not allow Emails", false),
			csBoolean("donotphone", "Do not allow Phone Calls", false),
			csLookup("slaid", "SLA", RequiredNone, "sla"),
		}, csAddress1Columns(), csActiveInactive(), csOwnerColumns(RequiredSystem), csAuditColumns(true)),
		// Email is the natural key in support systems (Odoo partners, web
		// forms); Dataverse has no key on it by default.
		AlternateKeys: []AlternateKey{{Name: "dvsync_contact_emailaddress1", Columns: []string{"emailaddress1"}}},
	}
}

// csProduct follows [PA] product.md (ObjectTypeCode 1024) and [R8]:
// products are created in Draft unless a state is given.
func csProduct() *Table {
	return &Table{
		LogicalName: "product", EntitySetName: "products", DisplayName: "Product",
		PrimaryID: "productid", PrimaryName: "name", OwnershipType: "OrganizationOwned", ObjectTypeCode: 1024,
		ChangeTracking: true,
		Columns: csColumns([]Column{
			csPrimaryKey("productid", "Product"),
			csString("name", "Name", 100, RequiredApplication),
			csString("productnumber", "Product ID", 100, RequiredSystem),
			csMemo("description", "Description", 2000, RequiredNone),
			csWithDefault(csPicklist("producttypecode", "Product Type", RequiredNone,
				csOpt(1, "Sales Inventory"), csOpt(2, "Miscellaneous Charges"), csOpt(3, "Services"), csOpt(4, "Flat Fees")), 1),
			csWithDefault(csPicklist("productstructure", "Product Structure", RequiredSystem,
				csOpt(1, "Product"), csOpt(2, "Product Family"), csOpt(3, "Product Bundle")), 1),
			csLookup("parentproductid", "Parent", RequiredNone, "product"),
			csLookup("subjectid", "Subject", RequiredNone, "subject"),
			csWithDefault(Column{LogicalName: "quantitydecimal", Type: TypeInteger, DisplayName: "Decimals Supported", Required: RequiredApplication, MinValue: csFloatPtr(0), MaxValue: csFloatPtr(5)}, 0),
			csString("vendorname", "Vendor", 100, RequiredNone),
			csDateOnly("validfromdate", "Valid From", RequiredNone),
			csDateOnly("validtodate", "Valid To", RequiredNone),
		}, csStateStatus(2,
			[]Option{csStateOpt(0, "Active", 1), csStateOpt(1, "Retired", 2), csStateOpt(2, "Draft", 0), csStateOpt(3, "Under Revision", 3)},
			[]Option{csStatusOpt(0, "Draft", 2), csStatusOpt(1, "Active", 0), csStatusOpt(2, "Retired", 1), csStatusOpt(3, "Under Revision", 3)}),
			csAuditColumns(true)),
		AlternateKeys: []AlternateKey{{Name: "dvsync_product_productnumber", Columns: []string{"productnumber"}}},
	}
}

// ---- routing ---------------------------------------------------------------

// csQueue follows [PA] queue.md (ObjectTypeCode 2020) and [R8].
func csQueue() *Table {
	return &Table{
		LogicalName: "queue", EntitySetName: "queues", DisplayName: "Queue",
		PrimaryID: "queueid", PrimaryName: "name", OwnershipType: "UserOwned", ObjectTypeCode: 2020,
		ChangeTracking: true,
		Columns: csColumns([]Column{
			csPrimaryKey("queueid", "Queue"),
			csString("name", "Queue Name", 400, RequiredSystem),
			csMemo("description", "Description", 4000, RequiredNone),
			csString("emailaddress", "Incoming Email", 100, RequiredNone),
			csWithDefault(csPicklist("queueviewtype", "Type", RequiredNone, csOpt(0, "Public"), csOpt(1, "Private")), 0),
			csLookup("businessunitid", "Business Unit", RequiredNone, "businessunit"),
		}, csActiveInactive(), csOwnerColumns(RequiredSystem), csAuditColumns(true)),
		AlternateKeys: []AlternateKey{{Name: "dvsync_queue_name", Columns: []string{"name"}}},
	}
}

// csQueueItem follows [PA] queueitem.md (ObjectTypeCode 2029, ownership
// type None) and [R8]. The platform lists activities and knowledgearticle as
// objectid targets; queueing cases comes with Customer Service (the incident
// target is not on the platform page). Activities are not modelled by dvsync.
func csQueueItem() *Table {
	return &Table{
		LogicalName: "queueitem", EntitySetName: "queueitems", DisplayName: "Queue Item",
		PrimaryID: "queueitemid", PrimaryName: "title", OwnershipType: "None", ObjectTypeCode: 2029,
		ChangeTracking: true,
		Columns: csColumns([]Column{
			csPrimaryKey("queueitemid", "Queue Item"),
			// The platform copies the title from the queued record's primary name.
			csString("title", "Title", 850, RequiredNone),
			csLookup("objectid", "Object", RequiredApplication, "incident", "knowledgearticle"),
			csLookup("queueid", "Queue", RequiredApplication, "queue"),
			csLookup("workerid", "Worked By", RequiredNone, "systemuser", "team"),
			csReadOnly(csDateTime("workeridmodifiedon", "Worked On")),
			csReadOnly(csDateTime("enteredon", "Entered Queue")),
			// Read-only here: the item takes the queue's owner. (Metadata says
			// ApplicationRequired; a required check must not demand it.)
			csReadOnly(Column{LogicalName: "ownerid", Type: TypeOwner, DisplayName: "Owner", Targets: []string{"systemuser", "team"}}),
			csReadOnly(csLookup("owningbusinessunit", "Owning Business Unit", RequiredNone, "businessunit")),
		}, csActiveInactive(), csAuditColumns(true)),
	}
}

// ---- service level agreements --------------------------------------------

// csSLA follows [CE] sla.md (ObjectTypeCode 9750) and [R8].
func csSLA() *Table {
	return &Table{
		LogicalName: "sla", EntitySetName: "slas", DisplayName: "SLA",
		PrimaryID: "slaid", PrimaryName: "name", OwnershipType: "UserOwned", ObjectTypeCode: 9750,
		ChangeTracking: true,
		Columns: csColumns([]Column{
			csPrimaryKey("slaid", "SLA"),
			csString("name", "Name", 160, RequiredSystem),
			csMemo("description", "Description", 2000, RequiredNone),
			// applicablefrom holds the logical name of the date column SLA
			// timers start from (createdon, usually).
			csString("applicablefrom", "Applicable From", 100, RequiredNone),
			csWithDefault(csPicklist("slatype", "SLA Type", RequiredSystem, csOpt(0, "Standard"), csOpt(1, "Enhanced")), 1),
			csBoolean("isdefault", "Is Default", false),
			csBoolean("allowpauseresume", "Allow Pause and Resume", false),
			csLookup("businesshoursid", "Business Hours", RequiredNone, "calendar"),
			// Entity type code of the table the SLA applies to (112 = incident).
			csCreateOnly(Column{LogicalName: "primaryentityotc", Type: TypeInteger, DisplayName: "Primary Entity", Required: RequiredSystem, MinValue: csFloatPtr(0), MaxValue: csFloatPtr(2147483647)}),
		}, csStateStatus(0,
			[]Option{csStateOpt(0, "Draft", 1), csStateOpt(1, "Active", 2)},
			[]Option{csStatusOpt(1, "Draft", 0), csStatusOpt(2, "Active", 1)}),
			csOwnerColumns(RequiredSystem), csAuditColumns(false)),
		AlternateKeys: []AlternateKey{{Name: "dvsync_sla_name", Columns: []string{"name"}}},
	}
}

// csSLAKPI follows [PA] msdyn_slakpi.md and [R8]. It is a solution table
// (no fixed type code). Unusually, state 0 is Inactive and 1 Active; the
// state cannot be set on create, and new KPIs start Active (as the SLA KPI
// form shows them; the page does not state the default).
func csSLAKPI() *Table {
	return &Table{
		LogicalName: "msdyn_slakpi", EntitySetName: "msdyn_slakpis", DisplayName: "SLA KPI",
		PrimaryID: "msdyn_slakpiid", PrimaryName: "msdyn_name", OwnershipType: "UserOwned",
		ChangeTracking: true, BulkMessages: true,
		Columns: csColumns([]Column{
			csPrimaryKey("msdyn_slakpiid", "SLA KPI"),
			csString("msdyn_name", "Name", 100, RequiredApplication),
			csMemo("msdyn_description", "Description", 2000, RequiredNone),
			csCreateOnly(csString("msdyn_entityname", "Entity", 100, RequiredApplication)),
			csCreateOnly(csString("msdyn_kpifield", "KPI Field", 100, RequiredApplication)),
			csCreateOnly(csString("msdyn_applicablefromfield", "Applicable From", 100, RequiredApplication)),
			csBoolean("msdyn_advancedpauseconfiguration", "Override entity pause configurations?", false),
			csMemo("msdyn_pauseconfigurationxml", "PauseConfigurationXml", 1048576, RequiredNone),
		}, csStateStatus(1,
			[]Option{csStateOpt(0, "Inactive", 1), csStateOpt(1, "Active", 2)},
			[]Option{csStatusOpt(1, "Inactive", 0), csStatusOpt(2, "Active", 1)}),
			csOwnerColumns(RequiredSystem), csAuditColumns(true)),
	}
}

// csSLAItem follows [CE] slaitem.md (ObjectTypeCode 9751): ownership type
// None, yet it carries an ApplicationRequired ownerid; no statecode.
func csSLAItem() *Table {
	return &Table{
		LogicalName: "slaitem", EntitySetName: "slaitems", DisplayName: "SLA Item",
		PrimaryID: "slaitemid", PrimaryName: "name", OwnershipType: "None", ObjectTypeCode: 9751,
		ChangeTracking: true,
		Columns: csColumns([]Column{
			csPrimaryKey("slaitemid", "SLA Item"),
			csString("name", "Name", 100, RequiredSystem),
			csString("description", "Description", 100, RequiredNone),
			csLookup("slaid", "SLA", RequiredSystem, "sla"),
			csInteger("failureafter", "Failure After", 0, 2147483647),
			csInteger("warnafter", "Warn After", 0, 2147483647),
			csMemo("applicablewhenxml", "ApplicableWhenXml", 1073741823, RequiredApplication),
			csMemo("successconditionsxml", "SuccessConditionsXml", 1073741823, RequiredApplication),
			csString("relatedfield", "Related Case Field", 100, RequiredNone),
			csString("applicableentity", "Applicable Entity", 100, RequiredNone),
			csCreateOnly(csLookup("msdyn_slakpiid", "SLA KPI", RequiredNone, "msdyn_slakpi")),
			csMemo("msdyn_pauseconfigurationxml", "PauseConfigurationXml", 1048576, RequiredNone),
			csBoolean("msdyn_advancedpauseconfiguration", "Advanced Pause Configuration", false),
			csBoolean("allowpauseresume", "Allow Pause and Resume", true),
			csLookup("businesshoursid", "Business Hours", RequiredNone, "calendar"),
			csInteger("sequencenumber", "Sequence", 0, 1500),
			{LogicalName: "ownerid", Type: TypeOwner, DisplayName: "Owner", Required: RequiredApplication, Targets: []string{"systemuser", "team"}},
			csReadOnly(csLookup("owningbusinessunit", "Owning Business Unit", RequiredNone, "businessunit")),
			csReadOnly(csLookup("owninguser", "Owning User", RequiredNone, "systemuser")),
		}, csAuditColumns(false)),
	}
}

// csSLAKPIInstance follows [CE] slakpiinstance.md (ObjectTypeCode 9752) and
// [R8]. The platform creates these when an SLA applies to a record; dvsync
// copies them during migrations.
func csSLAKPIInstance() *Table {
	return &Table{
		LogicalName: "slakpiinstance", EntitySetName: "slakpiinstances", DisplayName: "SLA KPI Instance",
		PrimaryID: "slakpiinstanceid", PrimaryName: "name", OwnershipType: "UserOwned", ObjectTypeCode: 9752,
		Columns: csColumns([]Column{
			csPrimaryKey("slakpiinstanceid", "SLA KPI Instance"),
			csString("name", "Name", 100, RequiredSystem),
			csString("description", "Description", 100, RequiredNone),
			csWithDefault(csPicklist("status", "Status", RequiredNone,
				csOpt(0, "In Progress"), csOpt(1, "Noncompliant"), csOpt(2, "Nearing Noncompliance"),
				csOpt(3, "Paused"), csOpt(4, "Succeeded"), csOpt(5, "Canceled")), 0),
			csDateTime("failuretime", "Failure Time"),
			csDateTime("warningtime", "Warning Time"),
			csDateTime("succeededon", "Succeeded On"),
			csDateTime("applicablefromvalue", "Applicable From Value"),
			csDateTime("computedfailuretime", "Computed Failure Time"),
			csDateTime("computedwarningtime", "Computed Warning Time"),
			// The page lists account, contact and activities; case KPIs
			// (incident.firstresponsebykpiid/resolvebykpiid) regard the case.
			csLookup("regarding", "Regarding", RequiredNone, "incident", "account", "contact"),
			csLookup("msdyn_slaitemid", "SLA Item", RequiredNone, "slaitem"),
			csDateTime("pausedon", "Paused On"),
			csDateTime("lastresumetime", "Last Resume Time"),
			csInteger("elapsedtime", "Elapsed Time (min)", -2147483648, 2147483647),
			csPicklist("warningtimereached", "Warning Time Reached", RequiredNone, csOpt(0, "No"), csOpt(1, "Yes")),
			// ownerid targets systemuser only on this table.
			{LogicalName: "ownerid", Type: TypeOwner, DisplayName: "Owner", Required: RequiredSystem, Targets: []string{"systemuser"}},
			csReadOnly(csLookup("owningbusinessunit", "Owning Business Unit", RequiredNone, "businessunit")),
			csReadOnly(csLookup("owninguser", "Owning User", RequiredNone, "systemuser")),
			csReadOnly(csLookup("owningteam", "Owning Team", RequiredNone, "team")),
		}, csAuditColumns(false)),
	}
}

// ---- entitlements ----------------------------------------------------------

// csEntitlementTemplate follows [CE] entitlementtemplate.md (ObjectTypeCode
// 9702): organization-owned, no statecode.
func csEntitlementTemplate() *Table {
	return &Table{
		LogicalName: "entitlementtemplate", EntitySetName: "entitlementtemplates", DisplayName: "Entitlement Template",
		PrimaryID: "entitlementtemplateid", PrimaryName: "name", OwnershipType: "OrganizationOwned", ObjectTypeCode: 9702,
		ChangeTracking: true, BulkMessages: true,
		Columns: csColumns([]Column{
			csPrimaryKey("entitlementtemplateid", "Entitlement Template"),
			csString("name", "Entitlement Template Name", 100, RequiredApplication),
			csMemo("description", "Description", 2000, RequiredNone),
			csDateTime("startdate", "Start Date"),
			csDateTime("enddate", "End Date"),
		}, csEntitlementTermsColumns(), csAuditColumns(true)),
	}
}

// csEntitlement follows [CE] entitlement.md (ObjectTypeCode 9700) and [R8].
// Draft is both a state and a status with value 0.
func csEntitlement() *Table {
	return &Table{
		LogicalName: "entitlement", EntitySetName: "entitlements", DisplayName: "Entitlement",
		PrimaryID: "entitlementid", PrimaryName: "name", OwnershipType: "UserOwned", ObjectTypeCode: 9700,
		ChangeTracking: true, BulkMessages: true,
		Columns: csColumns([]Column{
			csPrimaryKey("entitlementid", "Entitlement"),
			csString("name", "Entitlement Name", 100, RequiredApplication),
			csMemo("description", "Description", 2000, RequiredNone),
			// startdate/enddate are DateTime columns with UserLocal behaviour
			// and DateOnly *format*: on the wire they are full
			// Edm.DateTimeOffset values, not Edm.Date.
			{LogicalName: "startdate", Type: TypeDateTime, DisplayName: "Start Date", Required: RequiredSystem},
			{LogicalName: "enddate", Type: TypeDateTime, DisplayName: "End Date", Required: RequiredSystem},
			csCustomer("customerid", "Customer", RequiredSystem),
			// accountid/contactid mirror customerid and are read-only.
			csReadOnly(csLookup("accountid", "Account", RequiredNone, "account")),
			csReadOnly(csLookup("contactid", "Contact", RequiredNone, "contact")),
			csString("emailaddress", "Email Address", 100, RequiredNone),
			csLookup("entitlementtemplateid", "Entitlement Template", RequiredNone, "entitlementtemplate"),
			csDecimal("remainingterms", "Remaining Terms", 2, -100000000000, 100000000000),
			csWithDefault(Column{LogicalName: "isdefault", Type: TypeBoolean, DisplayName: "Is Default", Required: RequiredApplication}, false),
			csWithDefault(csPicklist("entitytype", "Entity Type", RequiredApplication, csOpt(0, "Case")), 0),
		}, csEntitlementTermsColumns(), csStateStatus(0,
			[]Option{csStateOpt(0, "Draft", 0), csStateOpt(1, "Active", 1), csStateOpt(2, "Cancelled", 2),
				csStateOpt(3, "Expired", 3), csStateOpt(4, "Waiting", 1200)},
			[]Option{csStatusOpt(0, "Draft", 0), csStatusOpt(1, "Active", 1), csStatusOpt(2, "Cancelled", 2),
				csStatusOpt(3, "Expired", 3), csStatusOpt(1200, "Waiting", 4)}),
			csOwnerColumns(RequiredSystem), csAuditColumns(true)),
		AlternateKeys: []AlternateKey{{Name: "dvsync_entitlement_name", Columns: []string{"name"}}},
	}
}

// csEntitlementChannel follows [CE] entitlementchannel.md (ObjectTypeCode
// 9701): user-owned with an optional ownerid, no statecode.
func csEntitlementChannel() *Table {
	return &Table{
		LogicalName: "entitlementchannel", EntitySetName: "entitlementchannels", DisplayName: "Entitlement Channel",
		PrimaryID: "entitlementchannelid", PrimaryName: "name", OwnershipType: "UserOwned", ObjectTypeCode: 9701,
		ChangeTracking: true, BulkMessages: true,
		Columns: csColumns([]Column{
			csPrimaryKey("entitlementchannelid", "Entitlement Channel"),
			csString("name", "Entitlement Channel Name", 100, RequiredNone),
			csGlobal(csPicklist("channel", "Name", RequiredSystem, csCaseOriginOptions()...), "incident_caseorigincode"),
			csLookup("entitlementid", "Entitlement", RequiredApplication, "entitlement"),
			csDecimal("totalterms", "Total Terms", 2, 0, 100000000000),
			csDecimal("remainingterms", "Remaining Terms", 2, -100000000000, 100000000000),
		}, csOwnerColumns(RequiredNone), csAuditColumns(true)),
	}
}

// ---- cases -----------------------------------------------------------------

// csIncident follows [CE] incident.md (ObjectTypeCode 112) and [R8].
func csIncident() *Table {
	slaStatus := func(name, display string) Column {
		return csPicklist(name, display, RequiredNone,
			csOpt(1, "In Progress"), csOpt(2, "Nearing Noncompliance"), csOpt(3, "Succeeded"), csOpt(4, "Noncompliant"))
	}
	return &Table{
		LogicalName: "incident", EntitySetName: "incidents", DisplayName: "Case",
		PrimaryID: "incidentid", PrimaryName: "title", OwnershipType: "UserOwned", ObjectTypeCode: 112,
		ChangeTracking: true, BulkMessages: true,
		Columns: csColumns([]Column{
			csPrimaryKey("incidentid", "Case"),
			csString("title", "Case Title", 200, RequiredApplication),
			// Auto-numbered (CAS-01234-X0X0X0) when absent; migrations set it
			// on create to keep the source number.
			csCreateOnly(csString("ticketnumber", "Case Number", 100, RequiredNone)),
			csMemo("description", "Description", 2000, RequiredNone),
			csCustomer("customerid", "Customer", RequiredSystem),
			csLookup("primarycontactid", "Contact", RequiredNone, "contact"),
			csLookup("parentcaseid", "Parent Case", RequiredNone, "incident"),
			csLookup("masterid", "Master Case", RequiredNone, "incident"),
			csWithDefault(csPicklist("prioritycode", "Priority", RequiredNone, csOpt(1, "High"), csOpt(2, "Normal"), csOpt(3, "Low")), 2),
			csWithDefault(csPicklist("severitycode", "Severity", RequiredNone, csOpt(1, "Default Value")), 1),
			csGlobal(csPicklist("caseorigincode", "Origin", RequiredNone, csCaseOriginOptions()...), "incident_caseorigincode"),
			csPicklist("casetypecode", "Case Type", RequiredNone, csOpt(1, "Question"), csOpt(2, "Problem"), csOpt(3, "Request")),
			csPicklist("customersatisfactioncode", "Satisfaction", RequiredNone,
				csOpt(1, "Very Dissatisfied"), csOpt(2, "Dissatisfied"), csOpt(3, "Neutral"), csOpt(4, "Satisfied"), csOpt(5, "Very Satisfied")),
			csLookup("subjectid", "Subject", RequiredNone, "subject"),
			csLookup("productid", "Product", RequiredNone, "product"),
			csString("productserialnumber", "Serial Number", 100, RequiredNone),
			csLookup("entitlementid", "Entitlement", RequiredNone, "entitlement"),
			csLookup("slaid", "SLA", RequiredNone, "sla"),
			csLookup("firstresponsebykpiid", "First Response By KPI", RequiredNone, "slakpiinstance"),
			csLookup("resolvebykpiid", "Resolve By KPI", RequiredNone, "slakpiinstance"),
			slaStatus("firstresponseslastatus", "First Response SLA Status"),
			slaStatus("resolvebyslastatus", "Resolve By SLA Status"),
			csDateTime("responseby", "First Response By"),
			csDateTime("resolveby", "Resolve By"),
			csDateTime("followupby", "Follow Up By"),
			csDateTime("escalatedon", "Escalated On"),
			csBoolean("isescalated", "Is Escalated", false),
			csBoolean("firstresponsesent", "First Response Sent", false),
			csBoolean("customercontacted", "Customer Contacted", false),
			csBoolean("blockedprofile", "Blocked Profile", false),
			// "Shows whether terms of the associated entitlement should be
			// decremented or not" ([CE] incident.md); the "Do not decrement
			// entitlement terms" command clears it.
			csBoolean("decremententitlementterm", "Decrement Entitlement Terms", true),
			csString("emailaddress", "Email Address", 100, RequiredNone),
		}, csStateStatus(0,
			[]Option{csStateOpt(0, "Active", 1), csStateOpt(1, "Resolved", 5), csStateOpt(2, "Cancelled", 6)},
			[]Option{
				csStatusOpt(1, "In Progress", 0), csStatusOpt(2, "On Hold", 0), csStatusOpt(3, "Waiting for Details", 0),
				csStatusOpt(4, "Researching", 0), csStatusOpt(5, "Problem Solved", 1), csStatusOpt(1000, "Information Provided", 1),
				csStatusOpt(6, "Cancelled", 2), csStatusOpt(2000, "Merged", 2),
			}),
			csOwnerColumns(RequiredSystem), csAuditColumns(true)),
		AlternateKeys: []AlternateKey{{Name: "dvsync_incident_ticketnumber", Columns: []string{"ticketnumber"}}},
	}
}

// ---- knowledge -------------------------------------------------------------

// csKnowledgeArticle follows [PA] knowledgearticle.md (ObjectTypeCode 9953)
// and [R8]. Versions and translations are separate rows: a root article
// (isrootarticle) groups them, parentarticlecontentid points a translation at
// its source, previousarticlecontentid a version at its predecessor.
func csKnowledgeArticle() *Table {
	return &Table{
		LogicalName: "knowledgearticle", EntitySetName: "knowledgearticles", DisplayName: "Knowledge Article",
		PrimaryID: "knowledgearticleid", PrimaryName: "title", OwnershipType: "UserOwned", ObjectTypeCode: 9953,
		ChangeTracking: true,
		Columns: csColumns([]Column{
			csPrimaryKey("knowledgearticleid", "Knowledge Article"),
			csString("title", "Title", 4000, RequiredApplication),
			csMemo("content", "Content", 1073741823, RequiredNone),
			csString("description", "Description", 155, RequiredNone),
			csMemo("keywords", "Keywords", 4000, RequiredNone),
			// Generated (KA-01001) when absent; SystemRequired in metadata.
			csString("articlepublicnumber", "Article Public Number", 4000, RequiredSystem),
			csWithDefault(Column{LogicalName: "majorversionnumber", Type: TypeInteger, DisplayName: "Major Version Number", Required: RequiredSystem, MinValue: csFloatPtr(0), MaxValue: csFloatPtr(2147483647)}, 1),
			csWithDefault(Column{LogicalName: "minorversionnumber", Type: TypeInteger, DisplayName: "Minor Version Number", Required: RequiredSystem, MinValue: csFloatPtr(0), MaxValue: csFloatPtr(2147483647)}, 0),
			csLookup("languagelocaleid", "Language", RequiredSystem, "languagelocale"),
			csWithDefault(Column{LogicalName: "isrootarticle", Type: TypeBoolean, DisplayName: "Root Article", Required: RequiredSystem}, false),
			csWithDefault(Column{LogicalName: "islatestversion", Type: TypeBoolean, DisplayName: "Is Latest Version", Required: RequiredSystem}, false),
			csBoolean("isinternal", "Internal", false),
			csLookup("rootarticleid", "Root Article", RequiredNone, "knowledgearticle"),
			csLookup("parentarticlecontentid", "Parent Article Content", RequiredNone, "knowledgearticle"),
			csLookup("previousarticlecontentid", "Previous Article Content", RequiredNone, "knowledgearticle"),
			csLookup("subjectid", "Subject", RequiredNone, "subject"),
			csDateTime("publishon", "Publish On"),
			csDateTime("expirationdate", "Expiration Date"),
			csReadOnly(csInteger("knowledgearticleviews", "Article Views", 0, 1000000000)),
		}, csStateStatus(0,
			[]Option{
				csStateOpt(0, "Draft", 2), csStateOpt(1, "Approved", 5), csStateOpt(2, "Scheduled", 6),
				csStateOpt(3, "Published", 7), csStateOpt(4, "Expired", 10), csStateOpt(5, "Archived", 12),
				csStateOpt(6, "Discarded", 13),
			},
			[]Option{
				csStatusOpt(1, "Proposed", 0), csStatusOpt(2, "Draft", 0), csStatusOpt(3, "Needs review", 0), csStatusOpt(4, "In review", 0),
				csStatusOpt(5, "Approved", 1), csStatusOpt(6, "Scheduled", 2),
				csStatusOpt(7, "Published", 3), csStatusOpt(8, "Needs review", 3), csStatusOpt(9, "Updating", 3),
				csStatusOpt(10, "Expired", 4), csStatusOpt(11, "Rejected", 4), csStatusOpt(12, "Archived", 5),
				csStatusOpt(13, "Discarded", 6), csStatusOpt(14, "Rejected", 6),
			}),
			csOwnerColumns(RequiredSystem), csAuditColumns(true)),
		// No alternate key: the natural key (articlepublicnumber + version +
		// language) includes a lookup, and the public number alone is shared
		// by every version and translation of an article.
	}
}

// csAnnotation follows [PA] annotation.md (ObjectTypeCode 5). The platform
// lists account, contact, knowledgearticle, sla and activities among the
// objectid targets; Customer Service adds incident.
func csAnnotation() *Table {
	return &Table{
		LogicalName: "annotation", EntitySetName: "annotations", DisplayName: "Note",
		PrimaryID: "annotationid", PrimaryName: "subject", OwnershipType: "UserOwned", ObjectTypeCode: 5,
		ChangeTracking: true,
		Columns: csColumns([]Column{
			csPrimaryKey("annotationid", "Note"),
			csString("subject", "Title", 500, RequiredApplication),
			csMemo("notetext", "Description", 100000, RequiredNone),
			csLookup("objectid", "Regarding", RequiredNone, "incident", "account", "contact", "knowledgearticle", "sla"),
			Column{LogicalName: "objecttypecode", Type: TypeEntityName, DisplayName: "Object Type"},
			csWithDefault(Column{LogicalName: "isdocument", Type: TypeBoolean, DisplayName: "Is Document", Required: RequiredSystem}, false),
			csString("filename", "File Name", 255, RequiredNone),
			csString("mimetype", "Mime Type", 256, RequiredNone),
			// Base64 attachment body; String with TextArea format in metadata.
			csString("documentbody", "Document", 1073741823, RequiredNone),
			csReadOnly(csInteger("filesize", "File Size (Bytes)", 0, 1000000000)),
			csString("langid", "Language ID", 2, RequiredNone),
			csString("stepid", "Step Id", 32, RequiredNone),
		}, csOwnerColumns(RequiredSystem), csAuditColumns(true)),
	}
}
