package refserver

import (
	"net/http"
	"strings"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// Duplicate detection on create and update, as "Detect duplicate data
// using the Web API" (powerapps-docs
// developer/data-platform/webapi/manage-duplicate-detection-create-update.md)
// describes it: off unless the request sends
// MSCRM.SuppressDuplicateDetection: false, then the published rules apply
// and a match refuses the write with 0x80040333. The documented response
// status is 500 Internal Server Error; the reference server answers the same.
//
// The rules are the default published ones a new environment has
// (power-platform/admin/set-up-duplicate-detection-rules-keep-data-clean):
// accounts with the same account name, contacts with the same e-mail
// address; exact match, case-insensitive, blank values never match. Our
// choice: only active records (statecode 0) are matching candidates.
var duplicateRules = map[string][]string{
	"account": {"name"},
	"contact": {"emailaddress1"},
}

const codeDuplicateDetected = "0x80040333"

func duplicateFound() *apiError {
	return newError(http.StatusInternalServerError, codeDuplicateDetected, "A record was not created or updated because a duplicate of the current record already exists.")
}

// wantsDuplicateDetection reads the header that turns detection on.
func wantsDuplicateDetection(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("MSCRM.SuppressDuplicateDetection")), "false")
}

// checkDuplicates refuses a write whose values match another record under a
// rule of t. id is the record being written (excluded from the match).
func (s *Server) checkDuplicates(tx *writeTx, t *schema.Table, v row, id string) error {
	for _, col := range duplicateRules[t.LogicalName] {
		val, ok := v[col].(string)
		if !ok || strings.TrimSpace(val) == "" {
			continue
		}
		where := quoteIdent(col) + " = ? AND " + quoteIdent(t.PrimaryID) + " <> ?"
		if _, ok := t.Column("statecode"); ok {
			where += ` AND "statecode" = 0`
		}
		rows, err := s.store.selectRows(tx.ctx, tx.q, t, []string{t.PrimaryID, colVersion}, where, []any{val, id}, "", 1)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			return duplicateFound()
		}
	}
	return nil
}

// checkDuplicatesOnUpdate applies the rules to the record as it will be
// after the update, when the update changes a rule column.
func (s *Server) checkDuplicatesOnUpdate(tx *writeTx, t *schema.Table, old row, p *payload) error {
	if !p.detectDuplicates {
		return nil
	}
	merged := row{}
	changed := false
	for _, col := range duplicateRules[t.LogicalName] {
		merged[col] = old[col]
		if nv, ok := p.values[col]; ok {
			merged[col] = nv
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return s.checkDuplicates(tx, t, merged, asString(old[t.PrimaryID]))
}
