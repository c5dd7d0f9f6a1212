package refserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// Bulk messages (bulk-operations.md): POST /<set>/Microsoft.Dynamics.CRM.
// CreateMultiple | UpdateMultiple | UpsertMultiple with {"Targets":[...]},
// each target carrying "@odata.type". On standard tables a call is one
// transaction: any failing target rolls back all of them. Responses:
// CreateMultiple 200 with the created Ids; UpdateMultiple and UpsertMultiple
// 204 with no body. Duplicate targets: UpdateMultiple applies the first and
// ignores the rest; UpsertMultiple fails.
//
// Dataverse answers a failing standard-table call with the failing
// record's error alone; we prefix the message with the target's index and
// key ("Targets[3] (accountnumber='A-3'): ...") so that a client can tell
// which record to fix. The status and error code stay the record's own.

const (
	msgCreateMultiple = "CreateMultiple"
	msgUpdateMultiple = "UpdateMultiple"
	msgUpsertMultiple = "UpsertMultiple"
)

func (s *Server) serveBulk(w http.ResponseWriter, r *http.Request, t *schema.Table, message string) bool {
	switch message {
	case msgCreateMultiple, msgUpdateMultiple, msgUpsertMultiple:
	default:
		return false
	}
	if r.Method != http.MethodPost {
		writeError(w, methodNotAllowed(r.Method, "Microsoft.Dynamics.CRM."+message))
		return true
	}
	if !t.BulkMessages {
		// Not every standard table has the *Multiple messages; a client is
		// expected to check sdkmessagefilters first (bulk-operations.md,
		// "Availability"). The exact platform wording is not documented.
		writeError(w, badRequest(codeInvalidArgument, "The '%s' message is not available for the entity '%s'. Query sdkmessagefilters to find the tables that support it.", message, t.LogicalName))
		return true
	}
	targets, err := s.decodeTargets(r, t)
	if err != nil {
		writeError(w, err)
		return true
	}
	switch message {
	case msgCreateMultiple:
		s.createMultiple(w, r, t, targets)
	case msgUpdateMultiple:
		s.updateMultiple(w, r, t, targets)
	case msgUpsertMultiple:
		s.upsertMultiple(w, r, t, targets)
	}
	return true
}

// bulkTarget is one decoded entry of Targets.
type bulkTarget struct {
	index int
	p     *payload
	id    string         // primary key, from the body or @odata.id
	key   map[string]any // alternate key, from @odata.id
}

// label names a target in an error message.
func (b bulkTarget) label(t *schema.Table) string {
	switch {
	case b.key != nil:
		names := make([]string, 0, len(b.key))
		for k := range b.key {
			names = append(names, k)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			v := b.key[n]
			if str, ok := v.(string); ok {
				v = "'" + strings.ReplaceAll(str, "'", "''") + "'"
			}
			parts[i] = fmt.Sprintf("%s=%v", n, v)
		}
		return fmt.Sprintf("Targets[%d] (%s)", b.index, strings.Join(parts, ","))
	case b.id != "":
		return fmt.Sprintf("Targets[%d] (%s=%s)", b.index, t.PrimaryID, b.id)
	}
	return fmt.Sprintf("Targets[%d]", b.index)
}

// identity is a canonical form of the record a target addresses, for
// spotting duplicates; "" when the target names no record.
func (b bulkTarget) identity() string {
	if b.key != nil {
		names := make([]string, 0, len(b.key))
		for k := range b.key {
			names = append(names, k)
		}
		sort.Strings(names)
		var sb strings.Builder
		for _, n := range names {
			// Alternate keys compare case-insensitively, like the store.
			fmt.Fprintf(&sb, "%s=%s;", n, strings.ToLower(fmt.Sprint(b.key[n])))
		}
		return sb.String()
	}
	if b.id != "" {
		return "id=" + strings.ToLower(b.id)
	}
	return ""
}

func targetError(t *schema.Table, b bulkTarget, err error) *apiError {
	ae := *asAPIError(err)
	ae.Message = b.label(t) + ": " + ae.Message
	return &ae
}

func (s *Server) decodeTargets(r *http.Request, t *schema.Table) ([]bulkTarget, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var in struct {
		Targets []map[string]any `json:"Targets"`
	}
	if err := dec.Decode(&in); err != nil {
		return nil, badRequest(codeBadProperty, "Invalid JSON. The request body must be an object with a 'Targets' array of %s records.", t.LogicalName)
	}
	if in.Targets == nil {
		return nil, badRequest(codeBadProperty, "The parameter 'Targets' is required.")
	}
	wantType := "Microsoft.Dynamics.CRM." + t.LogicalName
	out := make([]bulkTarget, 0, len(in.Targets))
	for i, raw := range in.Targets {
		b := bulkTarget{index: i}
		if raw == nil {
			return nil, badRequest(codeBadProperty, "Targets[%d]: the entry is null.", i)
		}
		typ, _ := raw["@odata.type"].(string)
		typ = strings.TrimPrefix(typ, "#")
		if typ == "" {
			// bulk-operations.md: "the @odata.type annotation is required for
			// each item" because Targets is a collection of crmbaseentity.
			return nil, badRequest(codeBadProperty, "Targets[%d]: the '@odata.type' annotation is required for every entity in Targets, e.g. \"@odata.type\": \"%s\".", i, wantType)
		}
		if typ != wantType {
			return nil, badRequest(codeBadProperty, "Targets[%d]: '@odata.type' is '%s' but this message is bound to %s; expected '%s'.", i, typ, t.EntitySetName, wantType)
		}
		if ref, ok := raw["@odata.id"].(string); ok && ref != "" {
			set, keyText, err := splitEntityRef(ref)
			if err != nil || set != t.EntitySetName {
				return nil, badRequest(codeBadProperty, "Targets[%d]: '@odata.id' value '%s' is not a reference to a %s record.", i, ref, t.LogicalName)
			}
			if b.id, b.key, err = parseKeySegment(t, keyText); err != nil {
				return nil, targetError(t, b, err)
			}
		}
		p, err := s.decodeObject(t, raw)
		if err != nil {
			return nil, targetError(t, b, err)
		}
		if b.id == "" && b.key == nil {
			if pk, ok := p.values[t.PrimaryID].(string); ok && pk != "" {
				b.id = pk
			}
		}
		b.p = p
		out = append(out, b)
	}
	return out, nil
}

func (s *Server) createMultiple(w http.ResponseWriter, r *http.Request, t *schema.Table, targets []bulkTarget) {
	ids := make([]string, 0, len(targets))
	err := s.store.write(r.Context(), func(tx *writeTx) error {
		for _, b := range targets {
			for col, v := range b.key {
				b.p.values[col] = v
			}
			res, err := s.createRecord(tx, t, b.p, b.id)
			if err != nil {
				return targetError(t, b, err)
			}
			ids = append(ids, res.id)
		}
		return nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	writeJSONValue(&buf, baseURL(r)+"$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse")
	buf.WriteString(`,"Ids":`)
	writeJSONValue(&buf, ids)
	buf.WriteString("}")
	writeJSONBytes(w, http.StatusOK, buf.Bytes())
}

func (s *Server) updateMultiple(w http.ResponseWriter, r *http.Request, t *schema.Table, targets []bulkTarget) {
	seen := map[string]bool{}
	err := s.store.write(r.Context(), func(tx *writeTx) error {
		for _, b := range targets {
			ident := b.identity()
			if ident == "" {
				return targetError(t, b, badRequest(codeMissingRequired, "The primary key '%s' is required for each record of UpdateMultiple.", t.PrimaryID))
			}
			if seen[ident] {
				continue // the first of duplicate targets wins (bulk-operations.md)
			}
			seen[ident] = true
			old, err := s.existingRecord(tx.ctx, tx.q, t, b.id, b.key)
			if err != nil {
				return targetError(t, b, err)
			}
			for col := range b.key {
				delete(b.p.values, col)
			}
			if _, err := s.updateRecord(tx, t, old, b.p); err != nil {
				return targetError(t, b, err)
			}
		}
		return nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) upsertMultiple(w http.ResponseWriter, r *http.Request, t *schema.Table, targets []bulkTarget) {
	first := map[string]int{}
	for _, b := range targets {
		ident := b.identity()
		if ident == "" {
			continue
		}
		if prev, dup := first[ident]; dup {
			writeError(w, targetError(t, b, badRequest(codeDuplicateRecord, "Targets[%d] addresses the same record; UpsertMultiple does not accept duplicate records in Targets.", prev)))
			return
		}
		first[ident] = b.index
	}
	err := s.store.write(r.Context(), func(tx *writeTx) error {
		for _, b := range targets {
			var old row
			if b.id != "" || b.key != nil {
				var err error
				if old, err = s.findRecord(tx.ctx, tx.q, t, b.id, b.key); err != nil {
					return targetError(t, b, err)
				}
			}
			if old == nil {
				for col, v := range b.key {
					b.p.values[col] = v // key values come from @odata.id on create
				}
				if _, err := s.createRecord(tx, t, b.p, b.id); err != nil {
					return targetError(t, b, err)
				}
				continue
			}
			for col := range b.key {
				delete(b.p.values, col)
			}
			if _, err := s.updateRecord(tx, t, old, b.p); err != nil {
				return targetError(t, b, err)
			}
		}
		return nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
