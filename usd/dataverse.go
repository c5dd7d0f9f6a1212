package usd

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/dvsync/dvsync/dataverse"
)

// DataverseSource reads the USD tables of a Dataverse environment through
// the Web API client: every row of every table in Tables, then every
// membership of every relationship in Relationships, into the same Builder
// the CMT reader uses.
type DataverseSource struct {
	Client *dataverse.Client
	// Name labels problems (the environment URL, say).
	Name string
	// Memberships reads the (owner, member) pairs of one relationship,
	// owner being a row of rel.Entity1. Nil reads the intersect table as
	// an entity set. Community reports say intersect tables of custom N:N
	// relationships have no Web API entity set, so a real environment may
	// need another way in: a collection-valued navigation property per
	// owner (GET <owners>(<id>)/<rel.Name>) or FetchXML with an intersect
	// link-entity, once the client offers them.
	Memberships func(ctx context.Context, rel Relationship, pair func(owner, member string)) error
}

// Load implements Source. A table or relationship that cannot be read
// (USD not installed, no privilege) is reported as a problem and the rest
// is still read; only a failure on every table is an error.
func (s *DataverseSource) Load(ctx context.Context) (*Model, error) {
	b := NewBuilder()
	var firstErr error
	readTables := 0
	for _, t := range Tables {
		n, err := s.readTable(ctx, b, t)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if firstErr == nil {
				firstErr = err
			}
			b.AddProblem(Problem{Severity: SeverityError, File: s.Name, Entity: t.LogicalName,
				Message: fmt.Sprintf("table could not be read after %d rows: %v", n, err)})
			continue
		}
		readTables++
	}
	if readTables == 0 {
		return nil, &ReadError{File: s.Name, Err: fmt.Errorf("no USD table could be read (is Unified Service Desk installed?): %w", firstErr)}
	}
	for _, rel := range Relationships {
		if err := s.readRelationship(ctx, b, rel); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			b.AddProblem(Problem{Severity: SeverityError, File: s.Name, Entity: rel.Entity1, Field: rel.Name,
				Message: fmt.Sprintf("memberships could not be read: %v", err)})
		}
	}
	return b.Model(), nil
}

func (s *DataverseSource) readTable(ctx context.Context, b *Builder, t TableInfo) (int, error) {
	n := 0
	for rec, err := range s.Client.Records(ctx, t.LogicalName, dataverse.Query{}) {
		if err != nil {
			return n, err
		}
		b.AddRecord(Record{Entity: t.LogicalName, ID: rec.String(t.PrimaryID), Fields: webFields(rec), File: s.Name})
		n++
	}
	return n, nil
}

// webFields turns a Web API row into CMT-style text fields: lookups arrive
// as _<column>_value, booleans as JSON true/false, numbers as json.Number.
func webFields(rec dataverse.Record) []Field {
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Field
	for _, k := range keys {
		if strings.Contains(k, "@") {
			continue // annotations
		}
		name := k
		if strings.HasPrefix(k, "_") && strings.HasSuffix(k, "_value") {
			name = strings.TrimSuffix(strings.TrimPrefix(k, "_"), "_value")
		}
		var v string
		switch x := rec[k].(type) {
		case nil:
			continue
		case bool:
			v = "False"
			if x {
				v = "True"
			}
		case string:
			v = x
		case json.Number:
			v = x.String()
		default:
			v = fmt.Sprint(x)
		}
		out = append(out, Field{Name: name, Value: v})
	}
	return out
}

// intersectMemberships reads an N:N intersect table. Its two id columns
// are named after the related tables' primary keys, with "one"/"two"
// suffixes when the relationship joins a table to itself (the Dataverse
// convention for Entity1IntersectAttribute/Entity2IntersectAttribute).
func (s *DataverseSource) intersectMemberships(ctx context.Context, rel Relationship, pair func(owner, member string)) error {
	col1, col2 := rel.Entity1+"id", rel.Entity2+"id"
	if rel.Entity1 == rel.Entity2 {
		col1, col2 = col1+"one", col2+"two"
	}
	for rec, err := range s.Client.Records(ctx, rel.Name, dataverse.Query{Select: []string{col1, col2}}) {
		if err != nil {
			return err
		}
		pair(rec.String(col1), rec.String(col2))
	}
	return nil
}

// readRelationship reads the memberships of one relationship.
func (s *DataverseSource) readRelationship(ctx context.Context, b *Builder, rel Relationship) error {
	targets := map[string][]string{}
	var order []string
	pair := func(from, to string) {
		if from == "" || to == "" {
			return
		}
		if _, ok := targets[from]; !ok {
			order = append(order, from)
		}
		targets[from] = append(targets[from], to)
	}
	read := s.Memberships
	if read == nil {
		read = s.intersectMemberships
	}
	if err := read(ctx, rel, pair); err != nil {
		return err
	}
	for _, from := range order {
		b.AddAssociation(Association{Relationship: rel.Name, SourceEntity: rel.Entity1, SourceID: from, TargetIDs: targets[from], File: s.Name})
	}
	return nil
}
