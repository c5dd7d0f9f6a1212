package refserver

// Entitlements, following "Create entitlements to define support terms"
// (learn.microsoft.com/dynamics365/customer-service/administer/create-entitlement-define-support-terms-customer,
// cited below as [ENT]) and the entitlement, entitlementchannel and
// incident table references.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/refserver/csrules"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// entitlementUnlockedColumns may change while an entitlement is in force:
// its state, "Set As Default" and assignment. [ENT]: "When an entitlement
// is active, you can't edit it. To deactivate an entitlement so you can
// edit it, on the command bar, select Deactivate."
var entitlementUnlockedColumns = map[string]bool{
	"statecode": true, "statuscode": true, "isdefault": true, "ownerid": true,
	"modifiedon": true, "modifiedby": true,
}

func (s *Server) csEntitlementCreate(tx *writeTx, t *schema.Table, v row) error {
	if tx.importing {
		return nil
	}
	// [ENT] "The Remaining Term shows the total number of hours or cases
	// remaining": a new entitlement starts with all its terms, unless the
	// client carries a balance over (a migration).
	if v["remainingterms"] == nil && v["totalterms"] != nil {
		v["remainingterms"] = numOf(v["totalterms"])
	}
	state := intOf(v["statecode"])
	if state == csrules.EntitlementDraft {
		return nil
	}
	if !csrules.TransitionAllowed(csrules.EntitlementDraft, int(state)) {
		return refuse("An entitlement can't be created in state %s; create it as Draft, then activate it.", entitlementStateName(state))
	}
	s.csSetActivatedState(tx, t, v, v)
	return nil
}

// csSetActivatedState writes into changes the state an activation leads
// to on the clock's day, by the entitlement's dates ([ENT] "Activate or
// deactivate an entitlement").
func (s *Server) csSetActivatedState(tx *writeTx, t *schema.Table, rec, changes row) {
	st := csrules.ActivatedState(timeOf(rec["startdate"]), timeOf(rec["enddate"]), tx.now)
	changes["statecode"] = int64(st)
	col, _ := t.Column("statecode")
	if o, ok := col.OptionByValue(st); ok && o.DefaultStatus != nil {
		changes["statuscode"] = int64(*o.DefaultStatus)
	}
}

func entitlementStateName(st int64) string {
	return [...]string{"Draft", "Active", "Cancelled", "Expired", "Waiting"}[min(max(st, 0), 4)]
}

func (s *Server) csEntitlementUpdate(tx *writeTx, t *schema.Table, old, changes row) error {
	from := intOf(old["statecode"])
	to, stateChanged := changes["statecode"].(int64)
	if from != csrules.EntitlementDraft {
		for col, val := range changes {
			if entitlementUnlockedColumns[col] {
				continue
			}
			if fmt.Sprint(old[col]) == fmt.Sprint(val) {
				continue // a client sending the record back unchanged edits nothing
			}
			return refuse("You can't edit an entitlement in the %s state. Deactivate the entitlement (set it back to Draft) to edit it.", entitlementStateName(from))
		}
	}
	if tot, ok := changes["totalterms"]; ok {
		if _, given := changes["remainingterms"]; !given {
			// Changing the total in Draft keeps what cases already took.
			changes["remainingterms"] = numOf(old["remainingterms"]) + numOf(tot) - numOf(old["totalterms"])
		}
	}
	if !stateChanged || to == from {
		return nil
	}
	if !csrules.TransitionAllowed(int(from), int(to)) {
		return badRequest(codeInvalidStateChange, "An entitlement in the %s state can't be set to %s. A cancelled or expired entitlement can only be renewed (RenewEntitlement).", entitlementStateName(from), entitlementStateName(to))
	}
	switch to {
	case csrules.EntitlementActive, csrules.EntitlementWaiting, csrules.EntitlementExpired:
		s.csSetActivatedState(tx, t, merged(old, changes), changes)
	}
	return nil
}

// entitlementChannelRules: a channel starts with its total terms remaining,
// and changing the total keeps what cases already took ([ENT] "Add an
// entitlement channel": "The remaining term is auto-calculated").
type entitlementChannelRules struct{ noRules }

func (entitlementChannelRules) beforeCreate(s *Server, tx *writeTx, t *schema.Table, v row) error {
	if !tx.importing && v["remainingterms"] == nil && v["totalterms"] != nil {
		v["remainingterms"] = numOf(v["totalterms"])
	}
	return nil
}

func (entitlementChannelRules) beforeUpdate(s *Server, tx *writeTx, t *schema.Table, old, changes row) error {
	if tot, ok := changes["totalterms"]; ok {
		if _, given := changes["remainingterms"]; !given {
			changes["remainingterms"] = numOf(old["remainingterms"]) + numOf(tot) - numOf(old["totalterms"])
		}
	}
	return nil
}

// csSweepEntitlements moves entitlements with the calendar: "On the start
// date, the status automatically changes to Active" and an entitlement
// past its end date is Expired ([ENT]).
func (s *Server) csSweepEntitlements(tx *writeTx) error {
	t := s.table("entitlement")
	if t == nil {
		return nil
	}
	today := csrules.DateOnly(tx.now)
	rows, err := s.store.selectRows(tx.ctx, tx.q, t, []string{t.PrimaryID, "statecode", "startdate", "enddate"},
		`"statecode" IN (1, 4)`, nil, "", 0)
	if err != nil {
		return err
	}
	for _, r := range rows {
		cur := intOf(r["statecode"])
		next := csrules.ActivatedState(timeOf(r["startdate"]), timeOf(r["enddate"]), today)
		if int64(next) == cur {
			continue
		}
		ch := row{}
		s.csSetActivatedState(tx, t, r, ch)
		if err := s.csUpdate(tx, t, asString(r[t.PrimaryID]), ch); err != nil {
			return err
		}
	}
	return nil
}

// ---- entitlements and cases ----------------------------------------------

// associated lists the ids related to id through an N:N relationship.
func (s *Server) associated(tx *writeTx, rel, entity, id string) ([]string, error) {
	m, ok := s.reg.ManyToMany(rel)
	if !ok {
		return nil, nil
	}
	self, other := "id1", "id2"
	if m.Entity1 != entity {
		self, other = "id2", "id1"
	}
	rs, err := tx.q.QueryContext(tx.ctx, `SELECT `+other+` FROM _associations WHERE rel = ? AND `+self+` = ?`, rel, id)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var x string
		if err := rs.Scan(&x); err != nil {
			return nil, err
		}
		out = append(out, strings.ToLower(x))
	}
	return out, rs.Err()
}

func containsID(ids []string, id string) bool {
	for _, x := range ids {
		if strings.EqualFold(x, id) {
			return true
		}
	}
	return false
}

// caseContact is the contact that claims an entitlement for a case: the
// case's contact, or its customer when the customer is a contact.
func caseContact(inc row) string {
	if c := idOf(inc["primarycontactid"]); c != "" {
		return c
	}
	if lv, ok := inc["customerid"].(lookupValue); ok && lv.Target == "contact" {
		return lv.ID
	}
	return ""
}

// entitlementChannelFor is the entitlement's channel row for the case's
// origin, if it has one.
func (s *Server) entitlementChannelFor(tx *writeTx, entID string, origin any) (row, []row, error) {
	t := s.table("entitlementchannel")
	if t == nil {
		return nil, nil, nil
	}
	rows, err := s.store.selectRows(tx.ctx, tx.q, t, nil, `"entitlementid" = ?`, []any{entID}, quoteIdent(t.PrimaryID), 0)
	if err != nil {
		return nil, nil, err
	}
	if origin == nil {
		return nil, rows, nil
	}
	for _, r := range rows {
		if intOf(r["channel"]) == intOf(origin) {
			return r, rows, nil
		}
	}
	return nil, rows, nil
}

// csCoverage tells whether an entitlement covers a case and how
// specifically: its products ("If you don't add a product, the customer
// will be entitled to support for all the products"), its contacts ("If
// you don't add a contact, all the contacts for the specified primary
// customer will be entitled to support") and its channels ([ENT]).
// reason says why not.
func (s *Server) csCoverage(tx *writeTx, ent, inc row) (covers bool, specificity int, reason string, err error) {
	id := asString(ent["entitlementid"])
	products, err := s.associated(tx, "entitlementproducts_association", "entitlement", id)
	if err != nil {
		return false, 0, "", err
	}
	if len(products) > 0 {
		p := idOf(inc["productid"])
		if p != "" && !containsID(products, p) {
			return false, 0, "the case's product is not one of the entitlement's products", nil
		}
		if p != "" {
			specificity++
		}
	}
	contacts, err := s.associated(tx, "entitlementcontacts_association", "entitlement", id)
	if err != nil {
		return false, 0, "", err
	}
	if len(contacts) > 0 {
		if c := caseContact(inc); c == "" || !containsID(contacts, c) {
			return false, 0, "the case's contact is not one of the contacts allowed to claim the entitlement", nil
		}
		specificity++
	}
	ch, all, err := s.entitlementChannelFor(tx, id, inc["caseorigincode"])
	if err != nil {
		return false, 0, "", err
	}
	if len(all) > 0 {
		if ch == nil {
			return false, 0, "the entitlement has no channel for the case's origin", nil
		}
		specificity++
	}
	return true, specificity, "", nil
}

// csCustomerMatches: the entitlement belongs to the case's customer, or to
// the account of the contact who is the case's customer. [ENT] "The inline
// lookup shows only the active entitlement for the customer of the case."
func (s *Server) csCustomerMatches(tx *writeTx, ent, inc row) (bool, error) {
	ec, ic := idOf(ent["customerid"]), idOf(inc["customerid"])
	if ec == "" || strings.EqualFold(ec, ic) {
		return true, nil
	}
	if lv, ok := inc["customerid"].(lookupValue); ok && lv.Target == "contact" {
		if ct := s.table("contact"); ct != nil {
			c, err := tx.get(ct, lv.ID)
			if err != nil || c == nil {
				return false, err
			}
			return strings.EqualFold(idOf(c["parentcustomerid"]), ec), nil
		}
	}
	return false, nil
}

// csMatchEntitlement finds the entitlement a case created without one gets
// (csrules.Pick): active entitlements of the case's customer whose dates
// cover the case date and that cover its product, contact and channel.
func (s *Server) csMatchEntitlement(tx *writeTx, inc row) (row, error) {
	t := s.table("entitlement")
	cust := idOf(inc["customerid"])
	if t == nil || cust == "" {
		return nil, nil
	}
	// Waiting ones too: on their start date they are Active, whether or
	// not a read has swept them yet (the dates are checked below).
	rows, err := s.store.selectRows(tx.ctx, tx.q, t, nil, `"customerid" = ? AND "statecode" IN (1, 4)`, []any{cust}, "", 0)
	if err != nil {
		return nil, err
	}
	day := csrules.DateOnly(timeOf(inc["createdon"]))
	if day.IsZero() {
		day = csrules.DateOnly(tx.now)
	}
	var cands []csrules.Candidate
	byID := map[string]row{}
	for _, e := range rows {
		start, end := timeOf(e["startdate"]), timeOf(e["enddate"])
		if (!start.IsZero() && csrules.DateOnly(start).After(day)) || (!end.IsZero() && csrules.DateOnly(end).Before(day)) {
			continue
		}
		if csrules.ActivatedState(start, end, tx.now) != csrules.EntitlementActive {
			continue // in force on the case date, but not on the clock's day
		}
		ok, spec, _, err := s.csCoverage(tx, e, inc)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		id := asString(e[t.PrimaryID])
		byID[id] = e
		cands = append(cands, csrules.Candidate{ID: id, IsDefault: boolOf(e["isdefault"], false), Specificity: spec,
			Start: start, CreatedOn: timeOf(e["createdon"])})
	}
	id, ok := csrules.Pick(cands)
	if !ok {
		return nil, nil
	}
	return byID[id], nil
}

// csCheckEntitlement refuses an entitlement a case may not use: "Before
// you can start applying an entitlement to a case, you must activate it"
// ([ENT]); it must belong to the case's customer and cover the case.
func (s *Server) csCheckEntitlement(tx *writeTx, ent, inc row) error {
	name := asString(ent["name"])
	state := intOf(ent["statecode"])
	if state == csrules.EntitlementActive || state == csrules.EntitlementWaiting {
		// The clock may have moved it since the last read swept it.
		state = int64(csrules.ActivatedState(timeOf(ent["startdate"]), timeOf(ent["enddate"]), tx.now))
	}
	if state != csrules.EntitlementActive {
		return refuse("The entitlement '%s' is %s. Only an active entitlement can be applied to a case.", name, entitlementStateName(state))
	}
	ok, err := s.csCustomerMatches(tx, ent, inc)
	if err != nil {
		return err
	}
	if !ok {
		return refuse("The entitlement '%s' belongs to another customer than the case's.", name)
	}
	covers, _, reason, err := s.csCoverage(tx, ent, inc)
	if err != nil {
		return err
	}
	if !covers && !strings.Contains(reason, "channel") {
		// Decision: an entitlement picked by hand applies to a case from a
		// channel it has no terms for (only the entitlement's own terms
		// move); products and contacts restrict it as [ENT] says.
		return refuse("The entitlement '%s' can't be applied to this case: %s.", name, reason)
	}
	return nil
}

// caseEvent names the entitlement event of a case state change.
func caseEvent(from, to int64) (csrules.CaseEvent, bool) {
	switch {
	case from == incidentActive && to == incidentResolved:
		return csrules.CaseResolved, true
	case from == incidentActive && to == incidentCancelled:
		return csrules.CaseCancelled, true
	case from == incidentCancelled && to == incidentActive:
		return csrules.CaseReactivatedFromCancelled, true
	case from == incidentResolved && to == incidentActive:
		return csrules.CaseReactivatedFromResolved, true
	}
	return 0, false
}

// csMoveTerms applies one case event to the case's entitlement: consume,
// give back or leave its terms (csrules.TermsDirection), refusing what a
// restricted entitlement refuses (csrules.Refused).
func (s *Server) csMoveTerms(tx *writeTx, inc row, ent row, ev csrules.CaseEvent) error {
	incID := asString(inc["incidentid"])
	alloc, dec := int(intOf(ent["allocationtypecode"])), int(intOf(ent["decreaseremainingon"]))
	dir := csrules.TermsDirection(alloc, dec, ev)
	restrict := boolOf(ent["restrictcasecreation"], false)
	name := asString(ent["name"])
	creating := ev == csrules.CaseCreated
	switch {
	case dir < 0:
		return s.csGiveBack(tx, incID)
	case dir == 0:
		if creating && csrules.Refused(restrict, numOf(ent["remainingterms"]), 0, true) {
			return refuse("You can't create a case against the entitlement '%s': its remaining terms are used up and it restricts case creation based on entitlement terms.", name)
		}
		return nil
	}
	amount := 1.0
	if alloc == csrules.AllocationHours {
		h, err := s.csResolutionHours(tx, incID)
		if err != nil {
			return err
		}
		amount = h
	}
	if !boolOf(inc["decremententitlementterm"], true) {
		// [ENT] "if you don't want the entitlement terms to be reduced for
		// a case, select Do not decrement entitlement terms".
		return s.csAudit(tx, incID, "Entitlement terms not decremented",
			fmt.Sprintf("Case %s did not decrement entitlement '%s' by %g (decremententitlementterm is No).", asString(inc["ticketnumber"]), name, amount))
	}
	ch, _, err := s.entitlementChannelFor(tx, asString(ent["entitlementid"]), inc["caseorigincode"])
	if err != nil {
		return err
	}
	remaining := numOf(ent["remainingterms"])
	if csrules.Refused(restrict, remaining, amount, creating) || (ch != nil && csrules.Refused(restrict, numOf(ch["remainingterms"]), amount, creating)) {
		verb := "create a case against"
		if !creating {
			verb = "resolve or reopen this case against"
		}
		return refuse("You can't %s the entitlement '%s': its remaining terms are used up and it restricts case creation based on entitlement terms.", verb, name)
	}
	entT := s.table("entitlement")
	if err := s.csUpdate(tx, entT, asString(ent["entitlementid"]), row{"remainingterms": remaining - amount}); err != nil {
		return err
	}
	chID := ""
	if ch != nil {
		chID = asString(ch["entitlementchannelid"])
		if err := s.csUpdate(tx, s.table("entitlementchannel"), chID, row{"remainingterms": numOf(ch["remainingterms"]) - amount}); err != nil {
			return err
		}
	}
	if _, err := tx.q.ExecContext(tx.ctx, `INSERT INTO _cs_terms (incidentid, entitlementid, channelid, amount) VALUES (?, ?, ?, ?)
		ON CONFLICT (incidentid, entitlementid, channelid) DO UPDATE SET amount = amount + excluded.amount`,
		incID, asString(ent["entitlementid"]), chID, amount); err != nil {
		return err
	}
	if remaining-amount < 0 {
		return s.csAudit(tx, incID, "Entitlement terms exceeded",
			fmt.Sprintf("Case %s took entitlement '%s' to %g remaining terms; the entitlement does not restrict case creation.", asString(inc["ticketnumber"]), name, remaining-amount))
	}
	return nil
}

// csGiveBack returns to entitlements and channels what a case took.
func (s *Server) csGiveBack(tx *writeTx, incID string) error {
	rs, err := tx.q.QueryContext(tx.ctx, `SELECT entitlementid, channelid, amount FROM _cs_terms WHERE incidentid = ?`, incID)
	if err != nil {
		return err
	}
	type held struct {
		ent, ch string
		amount  float64
	}
	var hs []held
	for rs.Next() {
		var h held
		if err := rs.Scan(&h.ent, &h.ch, &h.amount); err != nil {
			rs.Close()
			return err
		}
		hs = append(hs, h)
	}
	rs.Close()
	for _, h := range hs {
		for _, target := range []struct{ table, id string }{{"entitlement", h.ent}, {"entitlementchannel", h.ch}} {
			t := s.table(target.table)
			if target.id == "" || t == nil {
				continue
			}
			r, err := tx.get(t, target.id)
			if err != nil {
				return err
			}
			if r == nil {
				continue
			}
			if err := s.csUpdate(tx, t, target.id, row{"remainingterms": numOf(r["remainingterms"]) + h.amount}); err != nil {
				return err
			}
		}
	}
	_, err = tx.q.ExecContext(tx.ctx, `DELETE FROM _cs_terms WHERE incidentid = ?`, incID)
	return err
}

// csResolutionHours is the time spent on a case as its resolution records
// it (incidentresolution.timespent, minutes), in hours: what a "number of
// hours" entitlement consumes.
func (s *Server) csResolutionHours(tx *writeTx, incID string) (float64, error) {
	t := s.table("incidentresolution")
	if t == nil {
		return 0, nil
	}
	rows, err := s.store.selectRows(tx.ctx, tx.q, t, []string{t.PrimaryID, "timespent"}, `"incidentid" = ?`, []any{incID}, quoteIdent(colVersion)+" DESC", 1)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	return float64(intOf(rows[0]["timespent"])) / 60, nil
}

// csEntitlementOnCreate gives a new case its entitlement (the one the
// client named, or the matching one), checks it, takes its SLA when the
// case has none, and consumes its terms.
func (s *Server) csEntitlementOnCreate(tx *writeTx, v row) error {
	t := s.table("entitlement")
	if t == nil {
		return nil
	}
	var ent row
	if id := idOf(v["entitlementid"]); id != "" {
		e, err := tx.get(t, id)
		if err != nil {
			return err
		}
		if e == nil {
			return recordNotFound("entitlement", id)
		}
		if err := s.csCheckEntitlement(tx, e, v); err != nil {
			return err
		}
		ent = e
	} else {
		e, err := s.csMatchEntitlement(tx, v)
		if err != nil || e == nil {
			return err
		}
		ent = e
		v["entitlementid"] = lookupValue{ID: asString(e[t.PrimaryID]), Target: "entitlement"}
	}
	if v["slaid"] == nil && idOf(ent["slaid"]) != "" {
		// "SLA: Choose a service level agreement (SLA) record to associate
		// the service levels ... with this entitlement" [ENT]; the
		// entitlement's SLA applies to its cases ("Apply SLAs",
		// learn.microsoft.com/dynamics365/customer-service/administer/apply-slas).
		v["slaid"] = lookupValue{ID: idOf(ent["slaid"]), Target: "sla"}
	}
	st := intOf(v["statecode"])
	if err := s.csMoveTerms(tx, v, ent, csrules.CaseCreated); err != nil {
		return err
	}
	if st == incidentResolved {
		return s.csMoveTerms(tx, v, ent, csrules.CaseResolved)
	}
	return nil
}

// csEntitlementOnUpdate moves terms when a case changes entitlement or
// state ([ENT] "Decrease Remaining On").
func (s *Server) csEntitlementOnUpdate(tx *writeTx, old, changes, m row) error {
	t := s.table("entitlement")
	if t == nil {
		return nil
	}
	incID := asString(old["incidentid"])
	from := intOf(old["statecode"])
	to := intOf(m["statecode"])
	if raw, ok := changes["entitlementid"]; ok && !strings.EqualFold(idOf(raw), idOf(old["entitlementid"])) {
		if err := s.csGiveBack(tx, incID); err != nil {
			return err
		}
		if id := idOf(raw); id != "" {
			ent, err := tx.get(t, id)
			if err != nil {
				return err
			}
			if ent == nil {
				return recordNotFound("entitlement", id)
			}
			if err := s.csCheckEntitlement(tx, ent, m); err != nil {
				return err
			}
			if m["slaid"] == nil && idOf(ent["slaid"]) != "" {
				changes["slaid"] = lookupValue{ID: idOf(ent["slaid"]), Target: "sla"}
				m["slaid"] = changes["slaid"]
			}
			// "Creating or updating a case with the associated entitlement
			// decreases entitlement terms" [ENT].
			if from == incidentActive {
				if err := s.csMoveTerms(tx, m, ent, csrules.CaseCreated); err != nil {
					return err
				}
			}
		}
	}
	ev, ok := caseEvent(from, to)
	id := idOf(m["entitlementid"])
	if !ok || id == "" {
		return nil
	}
	ent, err := tx.get(t, id)
	if err != nil || ent == nil {
		return err
	}
	return s.csMoveTerms(tx, m, ent, ev)
}

// renewEntitlement implements RenewEntitlement: [ENT] "To renew a
// canceled or expired entitlement ... A new entitlement will be created,
// and its status is set to "Draft", while the canceled or expired
// entitlement will remain as is. The start date of the new entitlement
// will be set to the current date and the end date will be set to the
// current date plus the number of days between the end date and start
// date. The data in other fields is copied as is from the old entitlement."
//
// Decisions: the request is {"EntitlementId": guid, "Status": n} as
// RenewEntitlementRequest; the response carries the new record as
// "Entitlement". The copy's remaining terms start at its total terms,
// channels are copied with theirs, and products and contacts stay
// associated. The name gets " (renewed <date>)" because dvsync's reference
// entitlements are keyed by name.
func (s *Server) renewEntitlement(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req struct {
		EntitlementID string `json:"EntitlementId"`
		Status        *int64 `json:"Status"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.EntitlementID == "" {
		writeError(w, badRequest(codeBadProperty, "RenewEntitlement requires the parameter EntitlementId."))
		return
	}
	t := s.table("entitlement")
	var newID string
	err = s.store.write(r.Context(), func(tx *writeTx) error {
		old, err := tx.get(t, req.EntitlementID)
		if err != nil {
			return err
		}
		if old == nil {
			return recordNotFound("entitlement", req.EntitlementID)
		}
		if st := intOf(old["statecode"]); st != csrules.EntitlementCancelled && st != csrules.EntitlementExpired {
			return badRequest(codeInvalidStateChange, "Only a cancelled or expired entitlement can be renewed; '%s' is %s.", asString(old["name"]), entitlementStateName(st))
		}
		start := csrules.DateOnly(tx.now)
		days := csrules.DateOnly(timeOf(old["enddate"])).Sub(csrules.DateOnly(timeOf(old["startdate"])))
		v := row{}
		for k, val := range old {
			switch k {
			case t.PrimaryID, colVersion, "statecode", "statuscode", "createdon", "modifiedon", "createdby", "modifiedby",
				"overriddencreatedon", "accountid", "contactid", "owningbusinessunit", "owninguser", "owningteam":
				continue
			}
			if c, ok := t.Column(k); ok && c.ReadOnly {
				continue
			}
			v[k] = val
		}
		newID = uuid.NewString()
		v["name"] = truncate(fmt.Sprintf("%s (renewed %s)", asString(old["name"]), start.Format(dateOnlyLayout)), 100)
		v["startdate"] = start.Format(dateTimeLayout)
		v["enddate"] = start.Add(days).Format(dateTimeLayout)
		v["remainingterms"] = old["totalterms"]
		v["statecode"] = int64(csrules.EntitlementDraft)
		if _, err := s.createRecord(tx, t, &payload{values: v}, newID); err != nil {
			return err
		}
		_, chans, err := s.entitlementChannelFor(tx, req.EntitlementID, nil)
		if err != nil {
			return err
		}
		ct := s.table("entitlementchannel")
		for _, c := range chans {
			cv := row{"name": c["name"], "channel": c["channel"], "totalterms": c["totalterms"], "remainingterms": c["totalterms"],
				"entitlementid": lookupValue{ID: newID, Target: "entitlement"}}
			if _, err := s.createRecord(tx, ct, &payload{values: cv}, ""); err != nil {
				return err
			}
		}
		for _, rel := range []string{"entitlementproducts_association", "entitlementcontacts_association"} {
			ids, err := s.associated(tx, rel, "entitlement", req.EntitlementID)
			if err != nil {
				return err
			}
			for _, other := range ids {
				if _, err := tx.q.ExecContext(tx.ctx, `INSERT OR IGNORE INTO _associations (rel, id1, id2) VALUES (?, ?, ?)`, rel, newID, other); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	s.writeActionRecord(w, r, t, newID, "RenewEntitlementResponse", "Entitlement")
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// writeActionRecord answers an action that returns a record: the
// response type's context and the record under its parameter name (or the
// record itself when param is empty, for actions returning crmbaseentity).
func (s *Server) writeActionRecord(w http.ResponseWriter, r *http.Request, t *schema.Table, id, responseType, param string) {
	ctx := r.Context()
	rec, err := s.store.get(ctx, s.store.reader(ctx), t, id)
	if err != nil || rec == nil {
		writeError(w, err)
		return
	}
	out := map[string]any{}
	for k, v := range rec {
		switch x := v.(type) {
		case lookupValue:
			out["_"+k+"_value"] = x.ID
		default:
			out[k] = v
		}
	}
	out["@odata.type"] = "#Microsoft.Dynamics.CRM." + t.LogicalName
	var body map[string]any
	if param == "" {
		out["@odata.context"] = baseURL(r) + "$metadata#" + t.EntitySetName + "/$entity"
		body = out
	} else {
		body = map[string]any{"@odata.context": baseURL(r) + "$metadata#Microsoft.Dynamics.CRM." + responseType, param: out}
	}
	b, err := json.Marshal(body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSONBytes(w, http.StatusOK, b)
}
