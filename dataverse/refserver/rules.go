package refserver

import (
	"crypto/rand"
	"fmt"
	"net/http"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// tableRules are the platform and Customer Service business rules a table
// enforces beyond column validation.
type tableRules interface {
	beforeCreate(s *Server, tx *writeTx, t *schema.Table, v row) error
	beforeUpdate(s *Server, tx *writeTx, t *schema.Table, old, changes row) error
	beforeDelete(s *Server, tx *writeTx, t *schema.Table, id string) error
}

type noRules struct{}

func (noRules) beforeCreate(*Server, *writeTx, *schema.Table, row) error      { return nil }
func (noRules) beforeUpdate(*Server, *writeTx, *schema.Table, row, row) error { return nil }
func (noRules) beforeDelete(*Server, *writeTx, *schema.Table, string) error   { return nil }

func (s *Server) rules(t *schema.Table) tableRules {
	switch t.LogicalName {
	case "incident":
		return incidentRules{}
	case "knowledgearticle":
		return knowledgeArticleRules{}
	case "entitlement":
		return entitlementRules{}
	case "entitlementchannel":
		return entitlementChannelRules{}
	case "sla", "slaitem", "msdyn_slakpi", "calendar", "calendarrule":
		return csConfigRules{}
	case "contact", "systemuser":
		return fullNameRules{}
	}
	return noRules{}
}

// incidentRules: a case needs a customer; its number is generated when not
// supplied (CAS-NNNNN-XXXXXX, the default auto-numbering format); it is
// resolved only through the CloseIncident action; and a resolved or
// cancelled case is read-only until it is reactivated (statecode back to 0).
type incidentRules struct{ noRules }

const (
	incidentActive    = 0
	incidentResolved  = 1
	incidentCancelled = 2
)

func (incidentRules) beforeCreate(s *Server, tx *writeTx, t *schema.Table, v row) error {
	if v["customerid"] == nil {
		return badRequest(codeMissingRequired, "You should specify a parent contact or account.")
	}
	if tn, _ := v["ticketnumber"].(string); tn == "" {
		if _, ok := t.Column("ticketnumber"); ok {
			v["ticketnumber"] = fmt.Sprintf("CAS-%05d-%s", tx.s.version%100000, randomSuffix())
		}
	}
	if st, _ := v["statecode"].(int64); st == incidentResolved && !tx.closingIncident {
		return resolveNeedsCloseIncident()
	}
	return s.csIncidentCreate(tx, t, v)
}

func resolveNeedsCloseIncident() *apiError {
	return badRequest(codeInvalidStateChange, "This message can not be used to set the state of incident to Resolved. In order to set state of incident to Resolved, use the CloseIncidentRequest message instead.")
}

func (incidentRules) beforeUpdate(s *Server, tx *writeTx, t *schema.Table, old, changes row) error {
	oldState, _ := old["statecode"].(int64)
	newState, stateChanged := changes["statecode"].(int64)
	if oldState != incidentActive {
		// Only reactivation is allowed on a closed case.
		if !stateChanged || newState != incidentActive {
			return newError(http.StatusBadRequest, codeClosedRecord, "This case has already been resolved or cancelled. Reactivate the case to make changes.")
		}
		return s.csIncidentUpdate(tx, t, old, changes)
	}
	if stateChanged && newState == incidentResolved && !tx.closingIncident {
		return resolveNeedsCloseIncident()
	}
	return s.csIncidentUpdate(tx, t, old, changes)
}

func randomSuffix() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 6)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// knowledgeArticleRules: a new article gets a public number (KA-NNNNN) and
// version 1.0 unless the client gives them.
type knowledgeArticleRules struct{ noRules }

func (knowledgeArticleRules) beforeCreate(s *Server, tx *writeTx, t *schema.Table, v row) error {
	if n, _ := v["articlepublicnumber"].(string); n == "" {
		if _, ok := t.Column("articlepublicnumber"); ok {
			v["articlepublicnumber"] = fmt.Sprintf("KA-%05d", 1000+tx.s.version%99000)
		}
	}
	if c, ok := t.Column("languagelocaleid"); ok && c.Type.IsLookup() && v["languagelocaleid"] == nil {
		// Articles are written in the organization's base language unless
		// the client says otherwise.
		lang, err := s.baseLanguage(tx)
		if err != nil {
			return err
		}
		v["languagelocaleid"] = lang
	}
	for col, def := range map[string]int64{"majorversionnumber": 1, "minorversionnumber": 0} {
		if _, ok := t.Column(col); ok && v[col] == nil {
			v[col] = def
		}
	}
	return s.csArticleCreate(tx, t, v)
}

func (knowledgeArticleRules) beforeUpdate(s *Server, tx *writeTx, t *schema.Table, old, changes row) error {
	return s.csArticleUpdate(tx, t, old, changes)
}

// entitlementRules: an entitlement belongs to a customer and its end date
// cannot precede its start date.
type entitlementRules struct{ noRules }

func (entitlementRules) beforeCreate(s *Server, tx *writeTx, t *schema.Table, v row) error {
	if v["customerid"] == nil {
		return badRequest(codeMissingRequired, "A validation error occurred. The value of 'customerid' on record of type 'entitlement' is required.")
	}
	if err := checkEntitlementDates(v, nil); err != nil {
		return err
	}
	return s.csEntitlementCreate(tx, t, v)
}

func (entitlementRules) beforeUpdate(s *Server, tx *writeTx, t *schema.Table, old, changes row) error {
	if err := checkEntitlementDates(changes, old); err != nil {
		return err
	}
	return s.csEntitlementUpdate(tx, t, old, changes)
}

func checkEntitlementDates(v, old row) error {
	get := func(k string) string {
		if x, ok := v[k]; ok {
			s, _ := x.(string)
			return s
		}
		s, _ := old[k].(string)
		return s
	}
	start, end := get("startdate"), get("enddate")
	if start != "" && end != "" && end < start {
		return badRequest(codeValidation, "The end date of the entitlement must be later than the start date.")
	}
	return nil
}

// fullNameRules: contact and systemuser fullname is read-only and composed
// by the platform from firstname and lastname ("First Last", the default
// full-name format).
type fullNameRules struct{ noRules }

func composeFullName(first, last any) any {
	f, _ := first.(string)
	l, _ := last.(string)
	switch {
	case f == "" && l == "":
		return nil
	case f == "":
		return l
	case l == "":
		return f
	}
	return f + " " + l
}

func (fullNameRules) beforeCreate(s *Server, tx *writeTx, t *schema.Table, v row) error {
	if _, ok := t.Column("fullname"); ok {
		v["fullname"] = composeFullName(v["firstname"], v["lastname"])
	}
	return nil
}

func (fullNameRules) beforeUpdate(s *Server, tx *writeTx, t *schema.Table, old, changes row) error {
	_, f := changes["firstname"]
	_, l := changes["lastname"]
	if !f && !l {
		return nil
	}
	first, last := old["firstname"], old["lastname"]
	if f {
		first = changes["firstname"]
	}
	if l {
		last = changes["lastname"]
	}
	changes["fullname"] = composeFullName(first, last)
	return nil
}

// baseLanguageID is the languagelocale record the reference organization
// uses as its base language (English, United States; LCID 1033) when no
// such record was loaded.
const baseLanguageID = "0b8e3a5c-1033-4c6b-9d2e-656e2d555331"

// baseLanguage finds the en-US languagelocale, creating it on first use:
// every Dataverse organization has its base language's record.
func (s *Server) baseLanguage(tx *writeTx) (lookupValue, error) {
	t, ok := s.reg.Table("languagelocale")
	if !ok {
		return lookupValue{}, nil
	}
	if _, ok := t.Column("localeid"); ok {
		rows, err := s.store.selectRows(tx.ctx, tx.q, t, []string{t.PrimaryID, colVersion}, `"localeid" = 1033`, nil, "", 1)
		if err != nil {
			return lookupValue{}, err
		}
		if len(rows) == 1 {
			return lookupValue{ID: asString(rows[0][t.PrimaryID]), Target: t.LogicalName}, nil
		}
	}
	rec := row{t.PrimaryID: baseLanguageID}
	for k, v := range map[string]any{"name": "English (United States)", "code": "en-US", "language": "English", "region": "United States", "localeid": int64(1033)} {
		if _, ok := t.Column(k); ok {
			rec[k] = v
		}
	}
	if err := tx.insert(t, rec); err != nil {
		return lookupValue{}, err
	}
	return lookupValue{ID: baseLanguageID, Target: t.LogicalName}, nil
}
