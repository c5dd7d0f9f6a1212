package odata

import (
	"slices"
	"strings"
)

// QueryFunctionSpec describes a Dataverse query function: its name without
// the Microsoft.Dynamics.CRM. namespace and its parameter names in the
// documented order. Every parameter is required.
type QueryFunctionSpec struct {
	Name   string
	Params []string
}

// Parameter name sets shared by the families of query functions.
var (
	paramsName        = []string{"PropertyName"}
	paramsNameValue   = []string{"PropertyName", "PropertyValue"}
	paramsNameValues  = []string{"PropertyName", "PropertyValues"}
	paramsNameValue12 = []string{"PropertyName", "PropertyValue1", "PropertyValue2"}
)

// queryFunctions lists the Dataverse query functions by name (Web API
// reference, "Query functions": learn.microsoft.com/power-apps/developer/
// data-platform/webapi/reference/queryfunctions). Add an entry here to accept
// another one; the parser needs nothing else.
var queryFunctions = map[string]QueryFunctionSpec{}

func init() {
	add := func(params []string, names ...string) {
		for _, n := range names {
			queryFunctions[n] = QueryFunctionSpec{Name: n, Params: params}
		}
	}
	// Collections of values.
	add(paramsNameValues, "In", "NotIn", "Between", "NotBetween", "ContainValues", "DoesNotContainValues")
	// Hierarchy.
	add(paramsNameValue, "Above", "AboveOrEqual", "Under", "UnderOrEqual", "NotUnder")
	add(paramsName, "EqualUserOrUserHierarchy", "EqualUserOrUserHierarchyAndTeams")
	// Current user, business unit, language, teams.
	add(paramsName, "EqualUserId", "NotEqualUserId", "EqualBusinessId", "NotEqualBusinessId",
		"EqualUserLanguage", "EqualUserTeams", "EqualUserOrUserTeams")
	// Dates relative to now, without a value.
	add(paramsName, "Today", "Tomorrow", "Yesterday",
		"Last7Days", "Next7Days",
		"LastWeek", "ThisWeek", "NextWeek",
		"LastMonth", "ThisMonth", "NextMonth",
		"LastYear", "ThisYear", "NextYear",
		"LastFiscalPeriod", "ThisFiscalPeriod", "NextFiscalPeriod",
		"LastFiscalYear", "ThisFiscalYear", "NextFiscalYear")
	// Dates with one value.
	add(paramsNameValue, "On", "OnOrAfter", "OnOrBefore",
		"LastXHours", "NextXHours", "LastXDays", "NextXDays",
		"LastXWeeks", "NextXWeeks", "LastXMonths", "NextXMonths",
		"LastXYears", "NextXYears",
		"LastXFiscalPeriods", "NextXFiscalPeriods", "LastXFiscalYears", "NextXFiscalYears",
		"OlderThanXMinutes", "OlderThanXHours", "OlderThanXDays", "OlderThanXWeeks",
		"OlderThanXMonths", "OlderThanXYears",
		"InFiscalPeriod", "InFiscalYear")
	// Fiscal period and year.
	add(paramsNameValue12, "InFiscalPeriodAndYear", "InOrAfterFiscalPeriodAndYear", "InOrBeforeFiscalPeriodAndYear")
}

// LookupQueryFunction returns the spec of a Dataverse query function by its
// short name ("LastXDays").
func LookupQueryFunction(name string) (QueryFunctionSpec, bool) {
	s, ok := queryFunctions[name]
	return s, ok
}

// checkQueryFunction checks the name and the parameter names of f the way
// ODL's function binder does: an unknown name, or a parameter set that does
// not match the declared one, is refused.
func checkQueryFunction(f *QueryFunction, fullName string) *Error {
	spec, ok := queryFunctions[f.Name]
	if !ok {
		return newError(-1, msgUnknownFunction, fullName)
	}
	got := make([]string, len(f.Params))
	for i, p := range f.Params {
		got[i] = p.Name
	}
	want := slices.Clone(spec.Params)
	sortedGot := slices.Clone(got)
	slices.Sort(want)
	slices.Sort(sortedGot)
	if !slices.Equal(want, sortedGot) {
		return newError(-1, msgFunctionParamsMismatch, fullName, strings.Join(got, ","))
	}
	return nil
}
