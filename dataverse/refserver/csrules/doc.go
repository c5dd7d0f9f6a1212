// Package csrules holds the pure rules of the Dynamics 365 Customer Service
// engine that the reference Dataverse runs on writes: business-hours
// arithmetic over calendars, the fetch-style conditions SLA items carry,
// choosing the entitlement that applies to a case, and the life of an SLA
// KPI instance. Nothing here touches storage; the reference server feeds
// records in and writes the outcome inside the request's transaction.
//
// Each rule cites the Microsoft page it follows. Where the documentation is
// silent the decision is written beside the code and marked "Decision:".
package csrules
