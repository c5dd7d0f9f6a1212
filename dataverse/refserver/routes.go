package refserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// extraRoutes serves unbound actions and $batch; it reports whether it
// handled the request.
func (s *Server) extraRoutes(w http.ResponseWriter, r *http.Request, segs []string) bool {
	if s.functionRoutes(w, r, segs) {
		return true
	}
	if len(segs) != 1 {
		return false
	}
	switch segs[0] {
	case "CloseIncident":
		if r.Method != http.MethodPost {
			writeError(w, methodNotAllowed(r.Method, segs[0]))
			return true
		}
		s.closeIncident(w, r)
		return true
	case "organizations":
		s.organizations(w, r)
		return true
	case "$batch":
		if s.batchHandler == nil {
			return false
		}
		s.batchHandler(w, r)
		return true
	}
	return false
}

// collectionAction serves bound actions on an entity set, such as
// Microsoft.Dynamics.CRM.UpsertMultiple; it reports whether it handled the
// request.
func (s *Server) collectionAction(w http.ResponseWriter, r *http.Request, t *schema.Table, seg string) bool {
	if s.bulkHandler == nil || !strings.HasPrefix(seg, "Microsoft.Dynamics.CRM.") {
		return false
	}
	return s.bulkHandler(w, r, t, strings.TrimPrefix(seg, "Microsoft.Dynamics.CRM."))
}

// closeIncident implements the CloseIncident action: it records an
// incidentresolution and resolves the case, the only way a case becomes
// Resolved (the Web API equivalent of CloseIncidentRequest).
func (s *Server) closeIncident(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req struct {
		IncidentResolution map[string]any `json:"IncidentResolution"`
		Status             *int64         `json:"Status"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || req.IncidentResolution == nil || req.Status == nil {
		writeError(w, badRequest(codeBadProperty, "CloseIncident requires the parameters IncidentResolution and Status."))
		return
	}
	resT, ok := s.reg.Table("incidentresolution")
	incT, ok2 := s.reg.Table("incident")
	if !ok || !ok2 {
		writeError(w, notFoundSegment("CloseIncident"))
		return
	}
	delete(req.IncidentResolution, "@odata.type")
	p, err := s.decodeObject(resT, req.IncidentResolution)
	if err != nil {
		writeError(w, err)
		return
	}
	err = s.store.write(r.Context(), func(tx *writeTx) error {
		if err := s.resolveBinds(tx, p); err != nil {
			return err
		}
		ref, ok := p.values["incidentid"].(lookupValue)
		if !ok {
			return badRequest(codeMissingRequired, "The incident resolution must reference the case to close (incidentid@odata.bind).")
		}
		p.binds = nil
		inc, err := tx.get(incT, ref.ID)
		if err != nil {
			return err
		}
		if inc == nil {
			return recordNotFound("incident", ref.ID)
		}
		return s.closeIncidentTx(tx, incT, inc, resT, p, *req.Status)
	})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// closeIncidentTx resolves an active case inside tx: it records the
// resolution and sets statecode 1 with the given Resolved status (-1 means
// the default, 5 Problem Solved).
func (s *Server) closeIncidentTx(tx *writeTx, incT *schema.Table, inc row, resT *schema.Table, resolution *payload, status int64) error {
	if st, _ := inc["statecode"].(int64); st != incidentActive {
		return badRequest(codeClosedRecord, "This case has already been resolved or cancelled. Reactivate the case to make changes.")
	}
	if status == -1 {
		status = 5
	}
	statusCol, _ := incT.Column("statuscode")
	if o, ok := statusCol.OptionByValue(int(status)); !ok || o.State == nil || *o.State != incidentResolved {
		return badRequest(codeInvalidArgument, "%d is not a valid status code for state code Resolved(1) on incident.", status)
	}
	resolution.values["incidentid"] = lookupValue{ID: asString(inc[incT.PrimaryID]), Target: "incident"}
	resolution.binds = nil
	if _, err := s.createRecord(tx, resT, resolution, ""); err != nil {
		return err
	}
	tx.closingIncident = true
	defer func() { tx.closingIncident = false }()
	_, err := s.updateRecord(tx, incT, inc, &payload{values: row{"statecode": int64(incidentResolved), "statuscode": status}})
	return err
}

// propertyRequest serves /<set>(<key>)/<property>[/$value] (GET, PUT,
// DELETE) and /<set>(<key>)/<navigation>/$ref (DELETE, PUT).
func (s *Server) propertyRequest(w http.ResponseWriter, r *http.Request, t *schema.Table, id string, key map[string]any, rest []string) {
	if s.manyToManyRequest(w, r, t, id, key, rest) || s.oneToManyRequest(w, r, t, id, key, rest) {
		return
	}
	prop := rest[0]
	ctx := r.Context()
	if len(rest) == 2 && rest[1] == "$ref" {
		col, target, ok := t.LookupByNavigation(prop)
		if !ok {
			writeError(w, couldNotFindProperty(t, prop))
			return
		}
		var p *payload
		switch r.Method {
		case http.MethodDelete:
			p = &payload{values: row{col.LogicalName: nil}}
		case http.MethodPut:
			body, err := readBody(r)
			if err != nil {
				writeError(w, err)
				return
			}
			var ref struct {
				ID string `json:"@odata.id"`
			}
			if err := json.Unmarshal(body, &ref); err != nil || ref.ID == "" {
				writeError(w, badRequest(codeBadProperty, "The request body must be {\"@odata.id\": \"<entity URL>\"}."))
				return
			}
			raw := map[string]any{prop + "@odata.bind": ref.ID}
			if p, err = s.decodeObject(t, raw); err != nil {
				writeError(w, err)
				return
			}
			_ = target
		default:
			writeError(w, methodNotAllowed(r.Method, "$ref"))
			return
		}
		s.updateExisting(w, r, t, id, key, p)
		return
	}
	col, ok := t.Column(prop)
	if !ok {
		if c, ok2 := t.LookupByValueProperty(prop); ok2 {
			col, ok = c, true
		}
	}
	if !ok || len(rest) > 2 || (len(rest) == 2 && rest[1] != "$value") {
		writeError(w, couldNotFindProperty(t, strings.Join(rest, "/")))
		return
	}
	switch r.Method {
	case http.MethodGet:
		rec, err := s.existingRecord(ctx, s.store.reader(ctx), t, id, key)
		if err != nil {
			writeError(w, err)
			return
		}
		v := rec[col.LogicalName]
		if lv, ok := v.(lookupValue); ok {
			v = lv.ID
		}
		if len(rest) == 2 {
			if v == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(asString(v)))
			return
		}
		if v == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var buf bytes.Buffer
		buf.WriteString(`{"@odata.context":`)
		writeJSONValue(&buf, baseURL(r)+"$metadata#"+t.EntitySetName+"("+asString(rec[t.PrimaryID])+")/"+prop)
		buf.WriteString(`,"value":`)
		writeJSONValue(&buf, v)
		buf.WriteString("}")
		writeJSONBytes(w, http.StatusOK, buf.Bytes())
	case http.MethodPut:
		if col.Type.IsLookup() {
			writeError(w, badRequest(codeBadProperty, "Use PUT on %s/$ref to set a lookup.", prop))
			return
		}
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var in struct {
			Value any `json:"value"`
		}
		if err := dec.Decode(&in); err != nil {
			writeError(w, badRequest(codeBadProperty, "The request body must be {\"value\": ...}."))
			return
		}
		v, err := convertValue(t, col, in.Value)
		if err != nil {
			writeError(w, err)
			return
		}
		s.updateExisting(w, r, t, id, key, &payload{values: row{col.LogicalName: v}})
	case http.MethodDelete:
		s.updateExisting(w, r, t, id, key, &payload{values: row{col.LogicalName: nil}})
	default:
		writeError(w, methodNotAllowed(r.Method, prop))
	}
}

func (s *Server) updateExisting(w http.ResponseWriter, r *http.Request, t *schema.Table, id string, key map[string]any, p *payload) {
	err := s.store.write(r.Context(), func(tx *writeTx) error {
		old, err := s.existingRecord(tx.ctx, tx.q, t, id, key)
		if err != nil {
			return err
		}
		_, err = s.updateRecord(tx, t, old, p)
		return err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
