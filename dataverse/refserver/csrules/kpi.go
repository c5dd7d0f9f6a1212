package csrules

import "time"

// SLA KPI instance status (slakpiinstance.status, table reference
// learn.microsoft.com/power-apps/developer/data-platform/reference/entities/slakpiinstance).
const (
	KPIInProgress   = 0
	KPINoncompliant = 1
	KPINearing      = 2
	KPIPaused       = 3
	KPISucceeded    = 4
	KPICanceled     = 5
)

// Case SLA status (incident.firstresponseslastatus / resolvebyslastatus).
const (
	CaseSLAInProgress   = 1
	CaseSLANearing      = 2
	CaseSLASucceeded    = 3
	CaseSLANoncompliant = 4
)

// TimedStatus moves a running KPI along the clock: In Progress until the
// warning time, Nearing Noncompliance from the warning time, Noncompliant
// from the failure time ("Define service level agreements", SLA KPI
// statuses, learn.microsoft.com/dynamics365/customer-service/administer/
// define-service-level-agreements). Paused, Succeeded, Canceled and
// Noncompliant are not moved by time.
func TimedStatus(cur int, now, warning, failure time.Time) int {
	if cur != KPIInProgress && cur != KPINearing {
		return cur
	}
	switch {
	case !failure.IsZero() && !now.Before(failure):
		return KPINoncompliant
	case !warning.IsZero() && !now.Before(warning):
		return KPINearing
	}
	return KPIInProgress
}

// CaseStatus is the case column value that mirrors a KPI status.
//
// Decision: the case columns have no Paused or Canceled option; a paused
// KPI shows In Progress on the case, and a canceled KPI leaves the case
// column as it was (ok false).
func CaseStatus(kpi int) (int, bool) {
	switch kpi {
	case KPIInProgress, KPIPaused:
		return CaseSLAInProgress, true
	case KPINearing:
		return CaseSLANearing, true
	case KPISucceeded:
		return CaseSLASucceeded, true
	case KPINoncompliant:
		return CaseSLANoncompliant, true
	}
	return 0, false
}
