package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// WriteOptions are the conditional and response options of a single write.
type WriteOptions struct {
	// IfMatch makes an update or delete conditional on the record's etag
	// (W/"123"): a mismatch fails with 412 (IsConcurrencyConflict).
	// Source: webapi/perform-conditional-operations-using-web-api.md.
	IfMatch string
}

// recordPath is "<set>(<key>)".
func recordPath(t *schema.Table, key Key) (string, error) {
	seg, err := KeySegment(key)
	if err != nil {
		return "", err
	}
	return t.EntitySetName + "(" + seg + ")", nil
}

// idFromEntityID extracts the GUID from an OData-EntityId header
// ("…/incidents(7d5e…)").
func idFromEntityID(v string) (uuid.UUID, error) {
	i := strings.LastIndexByte(v, '(')
	j := strings.LastIndexByte(v, ')')
	if i < 0 || j < i {
		return uuid.Nil, fmt.Errorf("dataverse: unexpected OData-EntityId %q", v)
	}
	id, err := uuid.Parse(v[i+1 : j])
	if err != nil {
		return uuid.Nil, fmt.Errorf("dataverse: OData-EntityId %q does not end in a GUID", v)
	}
	return id, nil
}

// primaryID returns the record's client-set primary key, if any.
func primaryID(t *schema.Table, rec Record) (uuid.UUID, bool) {
	s, ok := rec[t.PrimaryID].(string)
	if !ok {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil && id != uuid.Nil
}

// Create inserts rec into table and returns the new record's ID
// (POST → 204 + OData-EntityId; create-entity-web-api.md).
//
// When rec carries its own primary key the request is safe to retry after a
// lost response: if the retry finds the record already there, Create
// reports success, because the first attempt created it.
func (c *Client) Create(ctx context.Context, table string, rec Record) (uuid.UUID, error) {
	t, err := c.entitySet(ctx, table)
	if err != nil {
		return uuid.Nil, err
	}
	body, err := jsonBody(rec)
	if err != nil {
		return uuid.Nil, fmt.Errorf("dataverse: encoding record: %w", err)
	}
	clientID, hasID := primaryID(t, rec)
	resp, st, err := c.do(ctx, request{method: http.MethodPost, path: t.EntitySetName, body: body, retrySafe: hasID})
	if err != nil {
		if hasID && st != nil && st.attempts.Load() > 1 && IsAlreadyExists(err) {
			return clientID, nil
		}
		return uuid.Nil, err
	}
	resp.Body.Close()
	if hasID {
		return clientID, nil
	}
	return idFromEntityID(resp.Header.Get("OData-EntityId"))
}

// Update changes an existing record and never creates one: it sends
// If-Match: * (or the caller's etag), so a missing record fails with 404
// instead of being upserted (update-delete-entities-using-web-api.md).
func (c *Client) Update(ctx context.Context, table string, key Key, rec Record, o *WriteOptions) error {
	ifMatch := "*"
	if o != nil && o.IfMatch != "" {
		ifMatch = o.IfMatch
	}
	_, err := c.patch(ctx, table, key, rec, http.Header{"If-Match": {ifMatch}}, ifMatch == "*")
	return err
}

// Upsert creates or updates the record addressed by key (PATCH without
// If-Match; use-upsert-insert-update-record.md). It is idempotent, so it is
// retried after lost responses. Alternate-key columns are removed from the
// body: Dataverse takes them from the URL.
func (c *Client) Upsert(ctx context.Context, table string, key Key, rec Record) (uuid.UUID, error) {
	return c.patch(ctx, table, key, rec, nil, true)
}

func (c *Client) patch(ctx context.Context, table string, key Key, rec Record, h http.Header, safe bool) (uuid.UUID, error) {
	t, err := c.entitySet(ctx, table)
	if err != nil {
		return uuid.Nil, err
	}
	path, err := recordPath(t, key)
	if err != nil {
		return uuid.Nil, err
	}
	body, err := jsonBody(bodyWithoutKey(t, key, rec))
	if err != nil {
		return uuid.Nil, fmt.Errorf("dataverse: encoding record: %w", err)
	}
	resp, _, err := c.do(ctx, request{method: http.MethodPatch, path: path, header: h, body: body, retrySafe: safe})
	if err != nil {
		return uuid.Nil, err
	}
	resp.Body.Close()
	if key.ID != uuid.Nil {
		return key.ID, nil
	}
	if v := resp.Header.Get("OData-EntityId"); v != "" {
		return idFromEntityID(v)
	}
	return uuid.Nil, nil
}

// bodyWithoutKey drops the columns the URL already carries.
func bodyWithoutKey(t *schema.Table, key Key, rec Record) Record {
	drop := map[string]bool{}
	if key.ID != uuid.Nil {
		drop[t.PrimaryID] = true
	}
	for col := range key.Alternate {
		drop[col] = true
	}
	if len(drop) == 0 {
		return rec
	}
	out := make(Record, len(rec))
	for k, v := range rec {
		if !drop[k] {
			out[k] = v
		}
	}
	return out
}

// Delete removes a record (DELETE → 204, 404 when absent). With
// o.IfMatch the delete only happens if the record is unchanged.
// A delete whose first attempt was applied but whose response was lost
// finds the record gone on retry; that 404 counts as success.
func (c *Client) Delete(ctx context.Context, table string, key Key, o *WriteOptions) error {
	t, err := c.entitySet(ctx, table)
	if err != nil {
		return err
	}
	path, err := recordPath(t, key)
	if err != nil {
		return err
	}
	var h http.Header
	if o != nil && o.IfMatch != "" {
		h = http.Header{"If-Match": {o.IfMatch}}
	}
	resp, st, err := c.do(ctx, request{method: http.MethodDelete, path: path, header: h, retrySafe: true})
	if err != nil {
		if IsNotFound(err) && st != nil && st.attempts.Load() > 1 {
			return nil
		}
		return err
	}
	resp.Body.Close()
	return nil
}

// Get reads one record by key. sel limits the columns.
func (c *Client) Get(ctx context.Context, table string, key Key, sel ...string) (Record, error) {
	t, err := c.entitySet(ctx, table)
	if err != nil {
		return nil, err
	}
	path, err := recordPath(t, key)
	if err != nil {
		return nil, err
	}
	qs, err := Query{Select: sel}.Encode()
	if err != nil {
		return nil, err
	}
	var rec Record
	if _, err := c.doJSON(ctx, request{method: http.MethodGet, path: path, query: qs}, &rec); err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, errors.New("dataverse: empty record response")
	}
	return rec, nil
}
