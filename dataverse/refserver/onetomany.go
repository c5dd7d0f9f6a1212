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

// Collection-valued navigation properties of one-to-many relationships
// (powerapps-docs developer/data-platform/webapi/web-api-navigation-properties.md,
// query/join-tables.md, associate-disassociate-entities-using-web-api.md):
//
//	GET    /accounts(<id>)/contact_customer_accounts          related records, paged
//	GET    /accounts?$expand=contact_customer_accounts($select=…;$filter=…;$orderby=…;$top=…)
//	GET    /accounts?$filter=contact_customer_accounts/any(c:c/lastname eq 'x')
//	POST   /accounts(<id>)/contact_customer_accounts/$ref     {"@odata.id":"…/contacts(<id>)"}
//	DELETE /accounts(<id>)/contact_customer_accounts(<cid>)/$ref
//	POST   /accounts {"name":…,"contact_customer_accounts":[{…}]}   deep insert
//
// A relationship is a lookup on the referencing (many) table, so all of this
// reads and writes that lookup column.

// relatedCond selects the referencing rows whose lookup points at id;
// alias is the referencing table's SQL alias ("" for unqualified).
func relatedCond(rel schema.OneToMany, ref *schema.Table, alias string, idSQL string) string {
	col, _ := ref.Column(rel.ReferencingAttribute)
	q := func(n string) string {
		if alias == "" {
			return quoteIdent(n)
		}
		return alias + "." + quoteIdent(n)
	}
	cond := q(rel.ReferencingAttribute) + " = " + idSQL
	if len(col.Targets) > 1 {
		cond += " AND " + q(rel.ReferencingAttribute+targetSufix) + " = '" + rel.ReferencedEntity + "'"
	}
	return cond
}

// expandOneToMany plans $expand of a collection-valued navigation property.
func (s *Server) expandOneToMany(ctx context.Context, t *schema.Table, e odata.ExpandItem, ann annotationFilter) (*collectionExpand, bool, error) {
	rel, ok := s.reg.OneToManyFor(t.LogicalName, e.Property)
	if !ok {
		return nil, false, nil
	}
	ref, _ := s.reg.Table(rel.ReferencingEntity)
	if e.Top != nil && *e.Top > MaxPageSize {
		return nil, true, badRequest(codeQueryNotSupported, "The limit of '%d' for $top query has been exceeded. The value from the incoming request is '%d'.", MaxPageSize, *e.Top)
	}
	plan, err := s.planRead(ctx, ref, &odata.Query{Select: e.Select, Filter: e.Filter, OrderBy: e.OrderBy, Expand: e.Expand}, ann)
	if err != nil {
		return nil, true, err
	}
	if hasNestedExpand(e) && (e.Top != nil || len(e.OrderBy) > 0) {
		// join-tables.md: $top and $orderby are not supported with a
		// nested $expand.
		return nil, true, badRequest(codeQueryNotSupported, "Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested one-to-many relationship.")
	}
	return &collectionExpand{nav: e.Property, oneToMany: &rel, plan: plan, top: e.Top, item: e}, true, nil
}

func hasNestedExpand(e odata.ExpandItem) bool { return len(e.Expand) > 0 }

// oneToManyRows reads the referencing records of one parent for $expand.
func (s *Server) oneToManyRows(ctx context.Context, ce *collectionExpand, id string) ([]row, error) {
	ref := ce.plan.t
	where := relatedCond(*ce.oneToMany, ref, "", "?")
	args := []any{id}
	if ce.plan.where != "" {
		where = "(" + ce.plan.where + ") AND " + where
		args = append(append([]any(nil), ce.plan.args...), args...)
	}
	limit := MaxPageSize
	if ce.top != nil {
		limit = *ce.top
	}
	return s.store.selectRows(ctx, s.store.reader(ctx), ref, ce.plan.fetchColumns(), where, args, ce.plan.orderSQL(), limit)
}

// oneToManyRequest serves /<set>(<id>)/<collection nav>[…]; it reports
// whether rest named a one-to-many navigation property of t.
func (s *Server) oneToManyRequest(w http.ResponseWriter, r *http.Request, t *schema.Table, id string, key map[string]any, rest []string) bool {
	nav, otherKey, hasOtherKey := cutKey(rest[0])
	rel, ok := s.reg.OneToManyFor(t.LogicalName, nav)
	if !ok {
		return false
	}
	ref, _ := s.reg.Table(rel.ReferencingEntity)
	ctx := r.Context()
	isRef := len(rest) == 2 && rest[1] == "$ref"
	switch {
	case r.Method == http.MethodGet && len(rest) == 1 && !hasOtherKey:
		rec, err := s.existingRecord(ctx, s.store.reader(ctx), t, id, key)
		if err != nil {
			writeError(w, err)
			return true
		}
		q, err := s.parseQuery(r)
		if err != nil {
			writeError(w, err)
			return true
		}
		if err := entitySetOnly(q); err != nil {
			writeError(w, err)
			return true
		}
		pref := parsePrefer(r)
		plan, err := s.planRead(ctx, ref, q, newAnnotationFilter(pref.annotations))
		if err != nil {
			writeError(w, err)
			return true
		}
		cond := relatedCond(rel, ref, "", "?")
		if plan.where != "" {
			plan.where = "(" + plan.where + ") AND " + cond
		} else {
			plan.where = cond
		}
		plan.args = append(append([]any(nil), plan.args...), asString(rec[t.PrimaryID]))
		s.servePlanPage(w, r, plan, q, pref, ref.EntitySetName)
	case r.Method == http.MethodPost && isRef && !hasOtherKey:
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return true
		}
		var in struct {
			ID string `json:"@odata.id"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.ID == "" {
			writeError(w, badRequest(codeBadProperty, "The request body must be {\"@odata.id\": \"<entity URL>\"}."))
			return true
		}
		s.setReferencingLookup(w, r, rel, t, id, key, ref, in.ID, true)
	case r.Method == http.MethodDelete && isRef:
		target := ""
		if hasOtherKey {
			target = ref.EntitySetName + "(" + otherKey + ")"
		} else {
			target = r.URL.Query().Get("$id")
		}
		if target == "" {
			writeError(w, badRequest(codeBadProperty, "Name the record to disassociate: DELETE .../%s(<id>)/$ref or .../%s/$ref?$id=<entity URL>.", nav, nav))
			return true
		}
		s.setReferencingLookup(w, r, rel, t, id, key, ref, target, false)
	default:
		writeError(w, methodNotAllowed(r.Method, nav))
	}
	return true
}

// setReferencingLookup associates (sets the child's lookup to the parent)
// or disassociates (clears it, if it points at the parent) one record.
func (s *Server) setReferencingLookup(w http.ResponseWriter, r *http.Request, rel schema.OneToMany, t *schema.Table, id string, key map[string]any, ref *schema.Table, refURL string, add bool) {
	setName, keyText, err := splitEntityRef(refURL)
	if err != nil || setName != ref.EntitySetName {
		writeError(w, badRequest(codeBadProperty, "The URI '%s' is not a valid reference to a '%s' record.", refURL, ref.LogicalName))
		return
	}
	childID, childKey, err := parseKeySegment(ref, keyText)
	if err != nil {
		writeError(w, err)
		return
	}
	col, _ := ref.Column(rel.ReferencingAttribute)
	err = s.store.write(r.Context(), func(tx *writeTx) error {
		parent, err := s.existingRecord(tx.ctx, tx.q, t, id, key)
		if err != nil {
			return err
		}
		child, err := s.existingRecord(tx.ctx, tx.q, ref, childID, childKey)
		if err != nil {
			return err
		}
		pid := asString(parent[t.PrimaryID])
		var v any = lookupValue{ID: pid, Target: t.LogicalName}
		if !add {
			cur, _ := child[col.LogicalName].(lookupValue)
			if cur.ID != pid || cur.Target != t.LogicalName {
				return nil // not associated: nothing to remove
			}
			v = nil
		}
		_, err = s.updateRecord(tx, ref, child, &payload{values: row{col.LogicalName: v}})
		return err
	})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// servePlanPage answers a collection read of plan with keyset paging, as
// getCollection does for entity sets.
func (s *Server) servePlanPage(w http.ResponseWriter, r *http.Request, plan *readPlan, q *odata.Query, pref preferences, set string) {
	ctx := r.Context()
	pageSize := MaxPageSize
	if pref.maxPageSize > 0 {
		pageSize = min(pref.maxPageSize, MaxPageSize)
		w.Header().Set("Preference-Applied", fmt.Sprintf("odata.maxpagesize=%d", pageSize))
	}
	paging := true
	if plan.top != nil {
		pageSize, paging = *plan.top, false
	}
	var cur *pagingCursor
	var err error
	if q.SkipToken != "" {
		if cur, err = plan.decodeCookie(q.SkipToken); err != nil {
			writeError(w, err)
			return
		}
	}
	count := -1
	if q.Count {
		if count, err = s.countRows(ctx, plan); err != nil {
			writeError(w, err)
			return
		}
	}
	rows, more, err := s.runPage(ctx, s.store.reader(ctx), plan, cur, pageSize)
	if err != nil {
		writeError(w, err)
		return
	}
	var buf bytes.Buffer
	buf.WriteString(`{"@odata.context":`)
	writeJSONValue(&buf, baseURL(r)+"$metadata#"+set+contextSelect(plan))
	if count >= 0 {
		fmt.Fprintf(&buf, `,"@odata.count":%d`, min(count, countLimit))
	}
	buf.WriteString(`,"value":[`)
	if err := s.writeRows(ctx, &buf, plan, rows); err != nil {
		writeError(w, err)
		return
	}
	buf.WriteString("]")
	if paging && more && len(rows) > 0 {
		page := 1
		if cur != nil {
			page = cur.page
		}
		buf.WriteString(`,"@odata.nextLink":`)
		writeJSONValue(&buf, nextLink(baseURL(r), strings.TrimPrefix(r.URL.Path, APIPath), r.URL.RawQuery, plan.encodeCookie(page, rows[0], rows[len(rows)-1])))
	}
	buf.WriteString("}")
	writeJSONBytes(w, http.StatusOK, buf.Bytes())
}

// lambda translates nav/any(v:body) and nav/all(v:body) over a one-to-many
// or many-to-many navigation property of f.t (filter-rows.md, "Lambda
// operators"): an EXISTS over the related rows.
func (f *filterSQL) lambda(x *odata.LambdaExpr) (string, error) {
	if len(x.Path) != 1 {
		return "", badRequest(codeQueryNotSupported, "The lambda operator '%s' on the path '%s' is not supported: use one collection-valued navigation property.", x.Kind, strings.Join(x.Path, "/"))
	}
	nav := x.Path[0]
	f.lambdas++
	alias := fmt.Sprintf("c%d_%d", f.depth, f.lambdas)
	var other *schema.Table
	var link string
	parentPK := f.alias + "." + quoteIdent(f.t.PrimaryID)
	if rel, ok := f.s.reg.OneToManyFor(f.t.LogicalName, nav); ok {
		other, _ = f.s.reg.Table(rel.ReferencingEntity)
		link = relatedCond(rel, other, alias, parentPK)
	} else if rel, ot, ok := f.s.manyToManyFor(f.t, nav); ok {
		other = ot
		selfCol, otherCol := pairColumns(rel, f.t)
		if rel.Entity1 == rel.Entity2 {
			selfCol, otherCol = "id1", "id2"
		}
		link = alias + "." + quoteIdent(other.PrimaryID) + " IN (SELECT " + otherCol + " FROM _associations WHERE rel = " + f.bind(rel.SchemaName) + " AND " + selfCol + " = " + parentPK + ")"
	} else {
		return "", couldNotFindProperty(f.t, nav)
	}
	if f.depth > 4 {
		return "", badRequest(codeQueryNotSupported, "Lambda operators are nested too deeply.")
	}
	from := sqlTable(other) + " " + alias
	if x.Body == nil { // nav/any()
		if x.Kind == odata.LambdaAll {
			return "", badRequest(codeQueryNotSupported, "The all operator needs a lambda expression.")
		}
		return "(EXISTS (SELECT 1 FROM " + from + " WHERE " + link + "))", nil
	}
	sub := &filterSQL{s: f.s, t: other, alias: alias, caller: f.caller, now: f.now, depth: f.depth + 1, lambdaVar: x.Var, nots: f.nots}
	body, err := sub.translate(x.Body)
	if err != nil {
		return "", err
	}
	f.args = append(f.args, sub.args...)
	if x.Kind == odata.LambdaAll {
		return "(NOT EXISTS (SELECT 1 FROM " + from + " WHERE " + link + " AND NOT COALESCE(" + body + ", 0)))", nil
	}
	return "(EXISTS (SELECT 1 FROM " + from + " WHERE " + link + " AND " + body + "))", nil
}
