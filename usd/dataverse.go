package usd

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"

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
	// owner being a row of rel.Entity1. Nil reads them through the
	// relationship's collection-valued navigation property, once per
	// owner row (GET <owners>(<id>)/<rel.Name>): intersect tables of custom
	// N:N relationships are not reliably exposed as entity sets, while the
	// navigation property always is
	// (learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api).
	Memberships func(ctx context.Context, rel Relationship, pair func(owner, member string)) error

	// owners holds the ids read per table, the rows whose memberships
	// the navigation reader asks for.
	owners map[string][]string
}

// Load implements Source. A table or relationship that cannot be read
// (USD not installed, no privilege) is reported as a problem and the rest
// is still read; only a failure on every table is an error.
func (s *DataverseSource) Load(ctx context.Context) (*Model, error) {
	b := NewBuilder()
	s.owners = map[string][]string{}
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
		id := rec.String(t.PrimaryID)
		b.AddRecord(Record{Entity: t.LogicalName, ID: id, Fields: webFields(rec), File: s.Name})
		s.owners[t.LogicalName] = append(s.owners[t.LogicalName], id)
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

// navigationMemberships reads, for every owner row read from rel.Entity1,
// the ids of the rows related to it through the navigation property named
// after the relationship. Owners that are not GUIDs cannot be addressed
// and are reported by the builder's own checks, so they are skipped here.
func (s *DataverseSource) navigationMemberships(ctx context.Context, rel Relationship, pair func(owner, member string)) error {
	other, err := s.Client.Table(ctx, rel.Entity2)
	if err != nil {
		return err
	}
	q := dataverse.Query{Select: []string{other.PrimaryID}}
	for _, owner := range s.owners[rel.Entity1] {
		id, err := uuid.Parse(owner)
		if err != nil {
			continue
		}
		for rec, err := range s.Client.Related(ctx, rel.Entity1, dataverse.ByID(id), rel.Name, q) {
			if err != nil {
				return fmt.Errorf("%s(%s)/%s: %w", rel.Entity1, owner, rel.Name, err)
			}
			pair(owner, rec.String(other.PrimaryID))
		}
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
		read = s.navigationMemberships
	}
	if err := read(ctx, rel, pair); err != nil {
		return err
	}
	for _, from := range order {
		b.AddAssociation(Association{Relationship: rel.Name, SourceEntity: rel.Entity1, SourceID: from, TargetIDs: targets[from], File: s.Name})
	}
	return nil
}
