package csrules

import (
	"sort"
	"time"
)

// Entitlement states (statecode), from the entitlement table reference
// (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/entitlement).
const (
	EntitlementDraft     = 0
	EntitlementActive    = 1
	EntitlementCancelled = 2
	EntitlementExpired   = 3
	EntitlementWaiting   = 4
)

// Allocation types and decrease modes (entitlement.allocationtypecode,
// entitlement.decreaseremainingon).
const (
	AllocationCases = 0
	AllocationHours = 1

	DecreaseOnResolution = 0
	DecreaseOnCreation   = 1
)

// DateOnly truncates to the day; entitlement start and end dates are
// DateOnly-format columns, so an entitlement covers its whole end day.
func DateOnly(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// ActivatedState is the state an entitlement takes when it is activated on
// day now: "If the start and end date of the entitlement fall in the
// future, the status of the entitlement is set to Waiting. On the start
// date, the status automatically changes to Active. If the end date is in
// the past, the entitlement is set to Expired."
// (learn.microsoft.com/dynamics365/customer-service/administer/create-entitlement-define-support-terms-customer,
// "Activate or deactivate an entitlement").
func ActivatedState(start, end, now time.Time) int {
	today := DateOnly(now)
	switch {
	case !end.IsZero() && DateOnly(end).Before(today):
		return EntitlementExpired
	case !start.IsZero() && DateOnly(start).After(today):
		return EntitlementWaiting
	}
	return EntitlementActive
}

// TransitionAllowed tells whether a client may move an entitlement from one
// state to another (the same page): Draft is activated; an Active one is
// deactivated back to Draft to edit it; an Active or Waiting one is
// cancelled; a Cancelled or Expired one is only renewed (a new Draft copy,
// RenewEntitlement), never reopened.
//
// Decision: a Waiting entitlement may also go back to Draft (it is not yet
// in force, and the page's Deactivate applies to it as to an Active one).
// Requests for Waiting or Expired are treated as activation: the dates decide
// the state, so a migration that replays an expired contract lands on
// Expired.
func TransitionAllowed(from, to int) bool {
	if from == to {
		return true
	}
	switch from {
	case EntitlementDraft:
		return to == EntitlementActive || to == EntitlementWaiting || to == EntitlementExpired
	case EntitlementActive, EntitlementWaiting:
		return to == EntitlementDraft || to == EntitlementCancelled
	}
	return false
}

// Candidate is an active entitlement that covers a case's customer on the
// case date, with how specifically it covers it.
type Candidate struct {
	ID        string
	IsDefault bool
	// Specificity counts the dimensions the entitlement names and the case
	// matches: products, channels, contacts.
	Specificity int
	Start       time.Time
	CreatedOn   time.Time
}

// Pick chooses the entitlement a case gets when it was created with none.
// The customer's default entitlement (isdefault, "Set as default
// entitlement": "the default entitlement will automatically be applied
// when a case is created", create-entitlement-define-support-terms-customer)
// wins when it covers the case; otherwise the most specific candidate,
// ties going to the oldest start date.
//
// Decision: remaining ties (same start date) go to the oldest created,
// then the lowest ID, so that the choice is deterministic.
func Pick(cands []Candidate) (string, bool) {
	if len(cands) == 0 {
		return "", false
	}
	c := append([]Candidate(nil), cands...)
	sort.SliceStable(c, func(i, j int) bool {
		a, b := c[i], c[j]
		if a.IsDefault != b.IsDefault {
			return a.IsDefault
		}
		if a.Specificity != b.Specificity {
			return a.Specificity > b.Specificity
		}
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if !a.CreatedOn.Equal(b.CreatedOn) {
			return a.CreatedOn.Before(b.CreatedOn)
		}
		return a.ID < b.ID
	})
	return c[0].ID, true
}

// CaseEvent is what happened to a case that can move entitlement terms.
type CaseEvent int

const (
	CaseCreated CaseEvent = iota
	CaseResolved
	CaseCancelled
	CaseReactivatedFromCancelled
	CaseReactivatedFromResolved
)

// TermsDirection says whether an event consumes (+1), gives back (-1) or
// leaves (0) the terms of the case's entitlement (create-entitlement-define-
// support-terms-customer, "Decrease Remaining On"):
//
//   - on case creation: creating a case decreases the terms, cancelling it
//     increases them, reactivating a cancelled case decreases them;
//   - on case resolution: resolving a case decreases the terms, reactivating
//     a resolved case increases them.
//
// Decision: with the "number of hours" allocation the amount is the time
// spent resolving the case, known only when it is resolved, so hours are
// always consumed on resolution and given back on reactivation of a
// resolved case, whatever decreaseremainingon says.
func TermsDirection(allocation, decreaseOn int, ev CaseEvent) int {
	if allocation == AllocationHours {
		decreaseOn = DecreaseOnResolution
	}
	if decreaseOn == DecreaseOnCreation {
		switch ev {
		case CaseCreated, CaseReactivatedFromCancelled:
			return 1
		case CaseCancelled:
			return -1
		}
		return 0
	}
	switch ev {
	case CaseResolved:
		return 1
	case CaseReactivatedFromResolved:
		return -1
	}
	return 0
}

// Refused tells whether a restricted entitlement refuses an event: "Select
// Yes to make sure that cases aren't created when the entitlement term is
// over. Service representatives won't be able to create cases when
// Remaining Terms is less than zero or when the term remaining for a
// channel is less than zero. If you select No, service representatives
// will be able to create cases, but Remaining Terms is updated to a
// negative value." (create-entitlement-define-support-terms-customer).
//
// Decision: "the term is over" is read as: the event would take the
// balance below zero, or, for a creation that consumes nothing yet
// (decrease on resolution), the balance is already used up (≤ 0). So an
// entitlement of 2 cases accepts two cases and refuses the third.
func Refused(restrict bool, remaining, consume float64, creating bool) bool {
	if !restrict {
		return false
	}
	if consume > 0 {
		return remaining-consume < 0
	}
	return creating && remaining <= 0
}
