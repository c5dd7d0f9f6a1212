package refserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/odata"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// maxBodyBytes bounds one request body: "The size limit to send a single
// request is 128 MB" (powerapps-docs developer/data-platform/file-attributes.md).
const maxBodyBytes = 128 << 20

func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= maxBodyBytes {
		// Read into a buffer of the declared size: io.ReadAll's doubling
		// would hold up to twice the body (issue 13, memory per request).
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, badRequest(codeBadProperty, "The request body could not be read: %v", err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, badRequest(codeBadProperty, "The request body could not be read: %v", err)
	}
	if len(b) > maxBodyBytes {
		return nil, newError(http.StatusRequestEntityTooLarge, codeBadProperty, "The request body exceeds the maximum size.")
	}
	return b, nil
}

// readPayload reads and validates a create or update body for t.
func (s *Server) readPayload(r *http.Request, t *schema.Table) (*payload, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	p, err := s.decodePayload(t, body)
	if err == nil {
		p.detectDuplicates = wantsDuplicateDetection(r)
	}
	return p, err
}

// staleVersion is the 412 for an If-Match etag that is no longer current
// (perform-conditional-operations-using-web-api.md).
func staleVersion() *apiError {
	return newError(http.StatusPreconditionFailed, codeConcurrency, "The version of the existing record doesn't match the RowVersion property provided.")
}

func entityID(base string, t *schema.Table, id string) string {
	return base + t.EntitySetName + "(" + id + ")"
}

// writeResult is what a create, update or upsert did.
type writeResult struct {
	id      string
	created bool
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, t *schema.Table) {
	p, err := s.readPayload(r, t)
	if err != nil {
		writeError(w, err)
		return
	}
	var res writeResult
	err = s.store.write(r.Context(), func(tx *writeTx) error {
		res, err = s.createRecord(tx, t, p, "")
		return err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	s.respondWrite(w, r, t, res, true)
}

// respondWrite answers a successful write: 204 with OData-EntityId, or the
// record itself with Prefer: return=representation (201 created / 200
// updated), as create-entity-web-api.md and update-delete-entities describe.
func (s *Server) respondWrite(w http.ResponseWriter, r *http.Request, t *schema.Table, res writeResult, created bool) {
	pref := parsePrefer(r)
	if !pref.returnRepresentation {
		w.Header().Set("OData-EntityId", entityID(baseURL(r), t, res.id))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q, err := s.parseQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	plan, err := s.planRead(r.Context(), t, &odata.Query{Select: q.Select, Expand: q.Expand}, newAnnotationFilter(pref.annotations))
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	rec, err := s.store.get(ctx, s.store.reader(ctx), t, res.id)
	if err != nil || rec == nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Preference-Applied", "return=representation")
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.writeSingle(w, r, plan, rec, status)
}

// resolveBinds turns @odata.bind references into lookup values, inside tx
// so that references to records created earlier in the transaction work.
func (s *Server) resolveBinds(tx *writeTx, p *payload) error {
	for _, b := range p.binds {
		if b.null {
			p.values[b.column.LogicalName] = nil
			continue
		}
		cacheKey := b.target.LogicalName + "\x00" + b.id
		if b.key != nil {
			cacheKey += fmt.Sprint(sortedKeys(b.key), b.key)
		}
		if id, ok := tx.bound[cacheKey]; ok {
			p.values[b.column.LogicalName] = lookupValue{ID: id, Target: b.target.LogicalName}
			continue
		}
		var rec row
		var err error
		if b.key != nil {
			rec, err = tx.getByKey(b.target, b.key)
		} else {
			rec, err = tx.get(b.target, b.id)
		}
		if err != nil {
			return err
		}
		if rec == nil {
			if b.key != nil {
				return newError(http.StatusNotFound, codeObjectDoesNotExist, "A record with the specified key values does not exist in %s entity", b.target.LogicalName)
			}
			return recordNotFound(b.target.LogicalName, b.id)
		}
		id := asString(rec[b.target.PrimaryID])
		if tx.bound == nil {
			tx.bound = map[string]string{}
		}
		tx.bound[cacheKey] = id
		p.values[b.column.LogicalName] = lookupValue{ID: id, Target: b.target.LogicalName}
	}
	return nil
}

// createRecord validates and inserts a new record. id, when set, comes from
// the URL of an upsert; otherwise the payload's primary key or a new GUID.
func (s *Server) createRecord(tx *writeTx, t *schema.Table, p *payload, id string) (writeResult, error) {
	if err := s.resolveBinds(tx, p); err != nil {
		return writeResult{}, err
	}
	if err := s.createDeepParents(tx, p); err != nil {
		return writeResult{}, err
	}
	v := p.values
	if id == "" {
		if pk, ok := v[t.PrimaryID].(string); ok && pk != "" {
			id = pk
		} else {
			id = uuid.NewString()
		}
	}
	v[t.PrimaryID] = id
	// A duplicate primary key is caught by the table's PRIMARY KEY
	// constraint on insert (reported as 0x80040237), saving a read per create.
	// Alternate-key values copied from a URL or @odata.id bypassed payload
	// validation; hold every text value to its column's length here.
	for name, val := range v {
		if str, ok := val.(string); ok {
			if c, ok := t.Column(name); ok && c.MaxLength > 0 && (c.Type == schema.TypeString || c.Type == schema.TypeMemo) && len([]rune(str)) > c.MaxLength {
				return writeResult{}, badRequest(codeValidation, "A validation error occurred. The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.", c.LogicalName, t.LogicalName, c.MaxLength)
			}
		}
	}
	s.applyDefaults(tx, t, v)
	if p.detectDuplicates {
		if err := s.checkDuplicates(tx, t, v, id); err != nil {
			return writeResult{}, err
		}
	}
	if err := s.checkState(t, nil, v); err != nil {
		return writeResult{}, err
	}
	if err := s.rules(t).beforeCreate(s, tx, t, v); err != nil {
		return writeResult{}, err
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.Required == schema.RequiredSystem && v[c.LogicalName] == nil && c.LogicalName != t.PrimaryID && !c.ReadOnly {
			return writeResult{}, missingRequired(t, c)
		}
	}
	if err := tx.insert(t, v); err != nil {
		return writeResult{}, err
	}
	if err := s.createDeepChildren(tx, t, id, p); err != nil {
		return writeResult{}, err
	}
	return writeResult{id: id, created: true}, nil
}

func missingRequired(t *schema.Table, c *schema.Column) *apiError {
	return badRequest(codeMissingRequired, "A validation error occurred. The value of '%s' on record of type '%s' is required.", c.LogicalName, t.LogicalName)
}

// applyDefaults fills platform-maintained columns and declared defaults.
func (s *Server) applyDefaults(tx *writeTx, t *schema.Table, v row) {
	now := tx.now.Format(dateTimeLayout)
	set := func(name string, val any) {
		if _, ok := t.Column(name); ok {
			v[name] = val
		}
	}
	set("createdon", now)
	set("modifiedon", now)
	if oc, ok := v["overriddencreatedon"].(string); ok && oc != "" {
		// "Record Created On" keeps the source system's date on migration.
		set("createdon", oc)
	}
	user := lookupValue{ID: s.adminUserID, Target: "systemuser"}
	set("createdby", user)
	set("modifiedby", user)
	if c, ok := t.Column("ownerid"); ok && v["ownerid"] == nil && c.Type.IsLookup() {
		v["ownerid"] = user
	}
	if c, ok := t.Column("administratorid"); ok && c.Type.IsLookup() && v["administratorid"] == nil {
		v["administratorid"] = user // a team's administrator defaults to its creator
	}
	if c, ok := t.Column("businessunitid"); ok && c.Type.IsLookup() && v["businessunitid"] == nil {
		// Teams and users belong to the caller's business unit by default.
		v["businessunitid"] = lookupValue{ID: s.businessUnitID, Target: "businessunit"}
	}
	if c, ok := t.Column("owningbusinessunit"); ok && c.Type.IsLookup() {
		v["owningbusinessunit"] = lookupValue{ID: s.businessUnitID, Target: "businessunit"}
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		if _, present := v[c.LogicalName]; present || c.DefaultValue == nil {
			continue
		}
		switch d := c.DefaultValue.(type) {
		case float64: // JSON-declared numbers
			if c.Type == schema.TypeDecimal || c.Type == schema.TypeDouble || c.Type == schema.TypeMoney {
				v[c.LogicalName] = d
			} else {
				v[c.LogicalName] = int64(d)
			}
		case int:
			v[c.LogicalName] = int64(d)
		default:
			v[c.LogicalName] = d
		}
	}
}

// checkState keeps statecode and statuscode consistent: a new state without
// a status takes the state's default status; a status must belong to the
// record's state.
func (s *Server) checkState(t *schema.Table, old, v row) error {
	stateCol, hasState := t.Column("statecode")
	statusCol, hasStatus := t.Column("statuscode")
	if !hasState || !hasStatus {
		return nil
	}
	_, stateSet := v["statecode"]
	_, statusSet := v["statuscode"]
	if old == nil && !stateSet {
		if len(stateCol.Options) > 0 {
			v["statecode"] = int64(stateCol.Options[0].Value)
		}
		stateSet = true
	}
	state, _ := v["statecode"].(int64)
	if !stateSet && old != nil {
		state, _ = old["statecode"].(int64)
	}
	if stateSet && !statusSet {
		if o, ok := stateCol.OptionByValue(int(state)); ok && o.DefaultStatus != nil {
			v["statuscode"] = int64(*o.DefaultStatus)
		} else {
			for _, so := range statusCol.Options {
				if so.State != nil && int64(*so.State) == state {
					v["statuscode"] = int64(so.Value)
					break
				}
			}
		}
		return nil
	}
	if statusSet && v["statuscode"] != nil {
		status := v["statuscode"].(int64)
		if o, ok := statusCol.OptionByValue(int(status)); ok && o.State != nil && int64(*o.State) != state {
			return badRequest(codeInvalidArgument, "%d is not a valid status code for state code %s on %s.", status, stateName(stateCol, state), t.LogicalName)
		}
	}
	return nil
}

func stateName(c *schema.Column, state int64) string {
	if o, ok := c.OptionByValue(int(state)); ok {
		return strings.ReplaceAll(o.Label, " ", "") + "(" + itoa(state) + ")"
	}
	return itoa(state)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// updateRecord applies changes to an existing record.
func (s *Server) updateRecord(tx *writeTx, t *schema.Table, old row, p *payload) (writeResult, error) {
	if len(p.deep) > 0 {
		return writeResult{}, badRequest(codeBadProperty, "Deep update is not supported: nested records can be created only with the record that holds them (POST).")
	}
	if err := s.checkDuplicatesOnUpdate(tx, t, old, p); err != nil {
		return writeResult{}, err
	}
	if err := s.resolveBinds(tx, p); err != nil {
		return writeResult{}, err
	}
	id := asString(old[t.PrimaryID])
	v := p.values
	delete(v, t.PrimaryID) // key columns in the body are ignored on update
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.CreateOnly {
			delete(v, c.LogicalName)
		}
		if c.Required == schema.RequiredSystem {
			if val, ok := v[c.LogicalName]; ok && val == nil {
				return writeResult{}, missingRequired(t, c)
			}
		}
	}
	if err := s.checkState(t, old, v); err != nil {
		return writeResult{}, err
	}
	if err := s.rules(t).beforeUpdate(s, tx, t, old, v); err != nil {
		return writeResult{}, err
	}
	if _, ok := t.Column("modifiedon"); ok {
		v["modifiedon"] = tx.now.Format(dateTimeLayout)
	}
	if err := tx.update(t, id, v); err != nil {
		return writeResult{}, err
	}
	return writeResult{id: id}, nil
}

// patch is update or upsert (use-upsert-insert-update-record.md):
// If-Match: * forbids create (404), If-None-Match: * forbids update (412),
// If-Match: <etag> requires the current version (412 otherwise).
func (s *Server) patch(w http.ResponseWriter, r *http.Request, t *schema.Table, id string, key map[string]any) {
	p, err := s.readPayload(r, t)
	if err != nil {
		writeError(w, err)
		return
	}
	ifMatch, ifNoneMatch := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	if ifNoneMatch == "null" {
		ifNoneMatch = "" // clients send "If-None-Match: null" to defeat caching
	}
	var res writeResult
	err = s.store.write(r.Context(), func(tx *writeTx) error {
		old, err := s.findRecord(tx.ctx, tx.q, t, id, key)
		if err != nil {
			return err
		}
		if old == nil {
			if ifMatch != "" {
				return notFoundByKey(t, id, key)
			}
			for col, kv := range key {
				p.values[col] = kv // key values come from the URL on create
			}
			res, err = s.createRecord(tx, t, p, id)
			return err
		}
		if ifNoneMatch == "*" {
			return newError(http.StatusPreconditionFailed, codeDuplicateRecord, "A record with matching key values already exists.")
		}
		if ifMatch != "" && ifMatch != "*" && ifMatch != etag(old) {
			return staleVersion()
		}
		for col := range key {
			delete(p.values, col)
		}
		res, err = s.updateRecord(tx, t, old, p)
		return err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	s.respondWrite(w, r, t, res, res.created)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, t *schema.Table, id string, key map[string]any) {
	ifMatch := r.Header.Get("If-Match")
	err := s.store.write(r.Context(), func(tx *writeTx) error {
		old, err := s.existingRecord(tx.ctx, tx.q, t, id, key)
		if err != nil {
			return err
		}
		if ifMatch != "" && ifMatch != "*" && ifMatch != etag(old) {
			return staleVersion()
		}
		return s.deleteRecord(tx, t, asString(old[t.PrimaryID]))
	})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteRecord removes a record and cascades to children whose lookup to it
// is a parental relationship (entitlement → entitlementchannel; notes on any
// record), as Dataverse's cascade-delete configuration does.
func (s *Server) deleteRecord(tx *writeTx, t *schema.Table, id string) error {
	if err := s.rules(t).beforeDelete(s, tx, t, id); err != nil {
		return err
	}
	for _, child := range s.reg.Tables() {
		for i := range child.Columns {
			c := &child.Columns[i]
			if !c.Type.IsLookup() || !cascadesDelete(child, c, t) {
				continue
			}
			kids, err := s.store.selectRows(tx.ctx, tx.q, child, []string{child.PrimaryID, colVersion}, quoteIdent(c.LogicalName)+" = ?", []any{id}, "", 0)
			if err != nil {
				return err
			}
			for _, k := range kids {
				if err := s.deleteRecord(tx, child, asString(k[child.PrimaryID])); err != nil {
					return err
				}
			}
		}
	}
	if err := s.removeAssociations(tx, t, id); err != nil {
		return err
	}
	return tx.remove(t, id)
}

// cascadesDelete tells whether deleting a parent of table parent deletes
// child records through lookup c.
func cascadesDelete(child *schema.Table, c *schema.Column, parent *schema.Table) bool {
	targets := false
	for _, tg := range c.Targets {
		if tg == parent.LogicalName {
			targets = true
		}
	}
	if !targets {
		return false
	}
	switch {
	case child.LogicalName == "entitlementchannel" && c.LogicalName == "entitlementid":
		return true
	case child.LogicalName == "slaitem" && c.LogicalName == "slaid":
		return true
	case child.LogicalName == "annotation" && c.LogicalName == "objectid":
		return true
	case child.LogicalName == "queueitem" && (c.LogicalName == "objectid" || c.LogicalName == "queueid"):
		return true
	case child.LogicalName == "msdyn_productivityagentscriptstep" && c.LogicalName == "msdyn_agentscriptid":
		return true
	case child.LogicalName == "msdyn_templateparameter" && c.LogicalName == "msdyn_applicationtabtemplateid":
		return true
	}
	return false
}

var _ = context.Background
