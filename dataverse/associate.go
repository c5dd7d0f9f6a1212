package dataverse

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// Many-to-many relationships are collection-valued navigation properties
// named after the relationship's schema name, on both tables. Records are
// associated and disassociated through the navigation property's $ref and
// read through the property itself. Source:
// learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api
// ("Add a record to a collection", "Remove a record from a collection"),
// and .../webapi/query/join-tables ("Retrieve related records by
// expanding collection-valued navigation properties").

// navigationPath is "<set>(<key>)/<relationship>".
func (c *Client) navigationPath(ctx context.Context, table string, key Key, relationship string) (string, error) {
	if err := checkProperty(relationship); err != nil {
		return "", err
	}
	t, err := c.entitySet(ctx, table)
	if err != nil {
		return "", err
	}
	path, err := recordPath(t, key)
	if err != nil {
		return "", err
	}
	return path + "/" + relationship, nil
}

// Associate relates two records through an N:N relationship:
//
//	POST <set>(<key>)/<relationship>/$ref
//	{"@odata.id":"<service root><other set>(<other key>)"}
//
// The other record may be addressed by its primary key or by an alternate
// key: a record URL takes either form wherever the Web API takes a record
// URL (learn.microsoft.com/power-apps/developer/data-platform/use-alternate-key-reference-record). Associating a pair that is already related fails in Dataverse with
// a duplicate-key error (0x80040237, "Cannot insert duplicate key"); here
// that counts as success, so that re-running a migration is safe.
func (c *Client) Associate(ctx context.Context, table string, key Key, relationship string, otherTable string, otherKey Key) error {
	path, err := c.navigationPath(ctx, table, key, relationship)
	if err != nil {
		return err
	}
	ref, err := c.entityURL(ctx, otherTable, otherKey)
	if err != nil {
		return err
	}
	body, err := jsonBody(map[string]string{"@odata.id": ref})
	if err != nil {
		return fmt.Errorf("dataverse: encoding reference: %w", err)
	}
	// Safe to resend: a repeat after a lost response meets the duplicate
	// answer, which is success.
	resp, _, err := c.do(ctx, request{method: http.MethodPost, path: path + "/$ref", body: body, retrySafe: true})
	if err != nil {
		if IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	resp.Body.Close()
	return nil
}

// Disassociate removes the N:N link between two records:
//
//	DELETE <set>(<key>)/<relationship>(<other id>)/$ref
//
// otherKey must be a primary key: the documented form takes the related
// record's ID in the path. Removing a pair that is not related is not an
// error in Dataverse, so this is idempotent too.
func (c *Client) Disassociate(ctx context.Context, table string, key Key, relationship string, otherKey Key) error {
	if otherKey.ID == uuid.Nil {
		return fmt.Errorf("dataverse: disassociate %s: the related record must be given by its ID", relationship)
	}
	path, err := c.navigationPath(ctx, table, key, relationship)
	if err != nil {
		return err
	}
	resp, _, err := c.do(ctx, request{method: http.MethodDelete, path: path + "(" + otherKey.ID.String() + ")/$ref", retrySafe: true})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Related streams the records related to one record through a
// collection-valued navigation property (an N:N relationship, or the
// "many" side of a 1:N one):
//
//	GET <set>(<key>)/<relationship>?$select=…&$filter=…
//
// Pages are followed through @odata.nextLink like Records does.
func (c *Client) Related(ctx context.Context, table string, key Key, relationship string, q Query) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		path, err := c.navigationPath(ctx, table, key, relationship)
		if err != nil {
			yield(nil, err)
			return
		}
		qs, err := q.Encode()
		if err != nil {
			yield(nil, err)
			return
		}
		p := &Pager{ctx: ctx, c: c, prefer: preferences(q, c.opts.PageSize, false),
			pending: request{method: http.MethodGet, path: path, query: qs}}
		defer p.Close()
		for p.Next() {
			if !yield(p.Record(), nil) {
				return
			}
		}
		if err := p.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// entityURL is the absolute URL of a record, the form @odata.id takes.
func (c *Client) entityURL(ctx context.Context, table string, key Key) (string, error) {
	t, err := c.entitySet(ctx, table)
	if err != nil {
		return "", err
	}
	path, err := recordPath(t, key)
	if err != nil {
		return "", err
	}
	// recordPath escapes for a URL path; keep that form, on the service
	// root's scheme and host.
	return c.root.Scheme + "://" + c.root.Host + strings.TrimSuffix(c.root.EscapedPath(), "/") + "/" + path, nil
}
