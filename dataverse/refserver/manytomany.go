package refserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/dvsync/dvsync/dataverse/odata"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// Many-to-many relationships are collection-valued navigation properties
// named after the relationship's SchemaName on both tables
// (associate-disassociate-entities-using-web-api.md):
//
//	POST   /<set>(<id>)/<rel>/$ref           {"@odata.id":"<url of the other record>"}
//	DELETE /<set>(<id>)/<rel>(<otherid>)/$ref
//	DELETE /<set>(<id>)/<rel>/$ref?$id=<url of the other record>
//	GET    /<set>(<id>)/<rel>                related records ($select, $filter, $orderby)
//	GET    /<set>?$expand=<rel>($select=...)
//
// Pairs are stored in _associations as (rel, id1, id2) with id1 on the
// relationship's Entity1 side; for a reflexive relationship id1 is the
// record the request was addressed to.

// manyToManyFor finds an N:N relationship of t by navigation name and
// returns it with the table on the other side.
func (s *Server) manyToManyFor(t *schema.Table, nav string) (schema.ManyToMany, *schema.Table, bool) {
	rel, ok := s.reg.ManyToMany(nav)
	if !ok || (rel.Entity1 != t.LogicalName && rel.Entity2 != t.LogicalName) {
		return schema.ManyToMany{}, nil, false
	}
	other := rel.Entity2
	if rel.Entity1 != t.LogicalName {
		other = rel.Entity1
	}
	ot, ok := s.reg.Table(other)
	return rel, ot, ok
}

// pairColumns tells which stored column holds t's id and which the other's.
func pairColumns(rel schema.ManyToMany, t *schema.Table) (self, other string) {
	if rel.Entity1 == t.LogicalName {
		return "id1", "id2"
	}
	return "id2", "id1"
}

// manyToManyRequest serves the requests above; it reports whether rest named
// an N:N navigation property of t.
func (s *Server) manyToManyRequest(w http.ResponseWriter, r *http.Request, t *schema.Table, id string, key map[string]any, rest []string) bool {
	nav, otherKey, hasOtherKey := cutKey(rest[0])
	rel, ot, ok := s.manyToManyFor(t, nav)
	if !ok {
		return false
	}
	ctx := r.Context()
	isRef := len(rest) == 2 && rest[1] == "$ref"
	switch {
	case r.Method == http.MethodPost && isRef && !hasOtherKey:
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return true
		}
		var ref struct {
			ID string `json:"@odata.id"`
		}
		if err := json.Unmarshal(body, &ref); err != nil || ref.ID == "" {
			writeError(w, badRequest(codeBadProperty, "The request body must be {\"@odata.id\": \"<entity URL>\"}."))
			return true
		}
		s.changeAssociation(w, r, rel, t, id, key, ot, ref.ID, true)
	case r.Method == http.MethodDelete && isRef:
		target := ""
		if hasOtherKey {
			target = ot.EntitySetName + "(" + otherKey + ")"
		} else {
			target = r.URL.Query().Get("$id")
		}
		if target == "" {
			writeError(w, badRequest(codeBadProperty, "Name the record to disassociate: DELETE .../%s(<id>)/$ref or .../%s/$ref?$id=<entity URL>.", nav, nav))
			return true
		}
		s.changeAssociation(w, r, rel, t, id, key, ot, target, false)
	case r.Method == http.MethodGet && len(rest) == 1 && !hasOtherKey:
		rec, err := s.existingRecord(ctx, s.store.reader(ctx), t, id, key)
		if err != nil {
			writeError(w, err)
			return true
		}
		q, err := s.parseQuery(r)
		if err == nil {
			err = entitySetOnly(q)
		}
		if err != nil {
			writeError(w, err)
			return true
		}
		pref := parsePrefer(r)
		plan, err := s.planRead(ctx, ot, q, newAnnotationFilter(pref.annotations))
		if err != nil {
			writeError(w, err)
			return true
		}
		// Page like any collection: restrict the plan to the related rows and
		// reuse keyset paging, so large memberships come back in pages with
		// @odata.nextLink as Dataverse sends them.
		restrictToRelated(plan, rel, t, asString(rec[t.PrimaryID]))
		pageSize := MaxPageSize
		if pref.maxPageSize > 0 {
			pageSize = min(pref.maxPageSize, MaxPageSize)
			w.Header().Set("Preference-Applied", fmt.Sprintf("odata.maxpagesize=%d", pageSize))
		}
		var cur *pagingCursor
		if q.SkipToken != "" {
			if cur, err = plan.decodeCookie(q.SkipToken); err != nil {
				writeError(w, err)
				return true
			}
		}
		rows, more, err := s.runPage(ctx, s.store.reader(ctx), plan, cur, pageSize)
		if err != nil {
			writeError(w, err)
			return true
		}
		var buf bytes.Buffer
		buf.WriteString(`{"@odata.context":`)
		writeJSONValue(&buf, baseURL(r)+"$metadata#"+ot.EntitySetName+contextSelect(plan))
		buf.WriteString(`,"value":[`)
		if err := s.writeRows(ctx, &buf, plan, rows); err != nil {
			writeError(w, err)
			return true
		}
		buf.WriteString("]")
		if more && len(rows) > 0 {
			page := 1
			if cur != nil {
				page = cur.page
			}
			buf.WriteString(`,"@odata.nextLink":`)
			writeJSONValue(&buf, nextLink(baseURL(r), strings.TrimPrefix(r.URL.Path, APIPath), r.URL.RawQuery, plan.encodeCookie(page, rows[0], rows[len(rows)-1])))
		}
		buf.WriteString("}")
		writeJSONBytes(w, http.StatusOK, buf.Bytes())
	default:
		writeError(w, methodNotAllowed(r.Method, nav))
	}
	return true
}

// changeAssociation adds or removes one pair. Associating an existing pair
// fails with a duplicate-key error and removing a missing pair is a no-op,
// as Dataverse does.
func (s *Server) changeAssociation(w http.ResponseWriter, r *http.Request, rel schema.ManyToMany, t *schema.Table, id string, key map[string]any, ot *schema.Table, ref string, add bool) {
	setName, keyText, err := splitEntityRef(ref)
	if err != nil || setName != ot.EntitySetName {
		writeError(w, badRequest(codeBadProperty, "The URI '%s' is not a valid reference to a '%s' record.", ref, ot.LogicalName))
		return
	}
	otherID, otherKey, err := parseKeySegment(ot, keyText)
	if err != nil {
		writeError(w, err)
		return
	}
	err = s.store.write(r.Context(), func(tx *writeTx) error {
		rec, err := s.existingRecord(tx.ctx, tx.q, t, id, key)
		if err != nil {
			return err
		}
		orec, err := s.existingRecord(tx.ctx, tx.q, ot, otherID, otherKey)
		if err != nil {
			return err
		}
		selfCol, _ := pairColumns(rel, t)
		a, b := asString(rec[t.PrimaryID]), asString(orec[ot.PrimaryID])
		if selfCol == "id2" && rel.Entity1 != rel.Entity2 {
			a, b = b, a
		}
		if !add {
			_, err := tx.q.ExecContext(tx.ctx, `DELETE FROM _associations WHERE rel = ? AND id1 = ? AND id2 = ?`, rel.SchemaName, a, b)
			return err
		}
		var n int
		if err := tx.q.QueryRowContext(tx.ctx, `SELECT COUNT(*) FROM _associations WHERE rel = ? AND id1 = ? AND id2 = ?`, rel.SchemaName, a, b).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return newError(http.StatusPreconditionFailed, codeDuplicateKey, "Cannot insert duplicate key.")
		}
		_, err = tx.q.ExecContext(tx.ctx, `INSERT INTO _associations (rel, id1, id2) VALUES (?, ?, ?)`, rel.SchemaName, a, b)
		return err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// relatedCondition selects the rows of the other table associated with id
// through rel.
func relatedCondition(p *readPlan, rel schema.ManyToMany, t *schema.Table, id string) (string, []any) {
	selfCol, otherCol := pairColumns(rel, t)
	if rel.Entity1 == rel.Entity2 {
		selfCol, otherCol = "id1", "id2"
	}
	return quoteIdent(p.t.PrimaryID) + ` IN (SELECT ` + otherCol + ` FROM _associations WHERE rel = ? AND ` + selfCol + ` = ?)`, []any{rel.SchemaName, id}
}

// restrictToRelated narrows a plan over the other table to the rows
// associated with id.
func restrictToRelated(p *readPlan, rel schema.ManyToMany, t *schema.Table, id string) {
	cond, args := relatedCondition(p, rel, t, id)
	if p.where != "" {
		p.where = "(" + p.where + ") AND " + cond
		p.args = append(append([]any(nil), p.args...), args...)
		return
	}
	p.where, p.args = cond, args
}

// relatedRows reads (up to a page of) the records associated with id
// through rel, for $expand, applying the plan's filter and order.
func (s *Server) relatedRows(ctx context.Context, rel schema.ManyToMany, t *schema.Table, id string, p *readPlan) ([]row, error) {
	cond, args := relatedCondition(p, rel, t, id)
	where := cond
	if p.where != "" {
		where = "(" + p.where + ") AND " + cond
		args = append(append([]any(nil), p.args...), args...)
	}
	return s.store.selectRows(ctx, s.store.reader(ctx), p.t, p.fetchColumns(), where, args, p.orderSQL(), MaxPageSize)
}

// collectionRows reads the related records of one parent for $expand.
func (s *Server) collectionRows(ctx context.Context, ce *collectionExpand, t *schema.Table, id string) ([]row, error) {
	if ce.oneToMany != nil {
		return s.oneToManyRows(ctx, ce, id)
	}
	rows, err := s.relatedRows(ctx, ce.rel, t, id, ce.plan)
	if err == nil && ce.top != nil && len(rows) > *ce.top {
		rows = rows[:*ce.top]
	}
	return rows, err
}

// removeAssociations drops every pair a deleted record was part of.
func (s *Server) removeAssociations(tx *writeTx, t *schema.Table, id string) error {
	for _, rel := range s.reg.ManyToManyRelationships() {
		if rel.Entity1 != t.LogicalName && rel.Entity2 != t.LogicalName {
			continue
		}
		if _, err := tx.q.ExecContext(tx.ctx, `DELETE FROM _associations WHERE rel = ? AND (id1 = ? OR id2 = ?)`, rel.SchemaName, id, id); err != nil {
			return err
		}
	}
	return nil
}

// expandManyToMany plans $expand of an N:N navigation property.
func (s *Server) expandManyToMany(ctx context.Context, t *schema.Table, e odata.ExpandItem, ann annotationFilter) (*collectionExpand, bool, error) {
	rel, ot, ok := s.manyToManyFor(t, e.Property)
	if !ok {
		return nil, false, nil
	}
	plan, err := s.planRead(ctx, ot, &odata.Query{Select: e.Select, Filter: e.Filter, OrderBy: e.OrderBy}, ann)
	if err != nil {
		return nil, true, err
	}
	return &collectionExpand{nav: e.Property, rel: rel, plan: plan, top: e.Top, item: e}, true, nil
}

// collectionExpand is a planned $expand of a collection-valued navigation
// property: an N:N relationship, or a one-to-many one (oneToMany set).
type collectionExpand struct {
	nav       string
	rel       schema.ManyToMany
	oneToMany *schema.OneToMany
	plan      *readPlan
	top       *int
	item      odata.ExpandItem // as the client wrote it, for the nextLink
}
