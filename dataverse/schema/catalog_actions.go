package schema

// Tables that exist to support platform actions the reference server
// implements, such as CloseIncident (which records an incidentresolution).
func init() { registerTableSet(actionTables) }

func actionTables() ([]*Table, []ManyToMany) {
	// incidentresolution: the Case Resolution activity written by
	// CloseIncident (ce/developer/reference/entities/incidentresolution.md).
	res := &Table{
		LogicalName: "incidentresolution", EntitySetName: "incidentresolutions", DisplayName: "Case Resolution",
		PrimaryID: "activityid", PrimaryName: "subject", OwnershipType: "UserOwned", ObjectTypeCode: 4206,
		Columns: csColumns(
			[]Column{
				csPrimaryKey("activityid", "Case Resolution"),
				csString("subject", "Subject", 200, RequiredNone),
				csMemo("description", "Description", 2000, RequiredNone),
				csLookup("incidentid", "Case", RequiredSystem, "incident"),
				csInteger("timespent", "Time Spent", 0, 2147483647),
				csDateTime("actualend", "Actual End"),
			},
			csAuditColumns(false),
			csOwnerColumns(RequiredSystem),
			csStateStatus(0,
				[]Option{csStateOpt(0, "Open", 1), csStateOpt(1, "Completed", 2), csStateOpt(2, "Canceled", 3)},
				[]Option{csStatusOpt(1, "Open", 0), csStatusOpt(2, "Closed", 1), csStatusOpt(3, "Canceled", 2)}),
		),
	}
	return []*Table{res}, nil
}
