package usd

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

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
	// Concurrency bounds the reads in flight; default 8. Tables and
	// membership lists are read side by side so that a remote
	// environment's round trip is paid a few times, not once per request;
	// the client's limiter still caps concurrent requests.
	Concurrency int
}

func (s *DataverseSource) concurrency() int {
	if s.Concurrency > 0 {
		return s.Concurrency
	}
	return 8
}

// Load implements Source. A table or relationship that cannot be read
// (USD not installed, no privilege) is reported as a problem and the rest
// is still read; only a failure on every table is an error. Rows reach
// the builder in Tables order whatever order the reads finish in, so the
// model does not depend on timing.
func (s *DataverseSource) Load(ctx context.Context) (*Model, error) {
	b := NewBuilder()
	type tableRead struct {
		rows []Record
		err  error
	}
	reads := make([]tableRead, len(Tables))
	var g errgroup.Group
	g.SetLimit(s.concurrency())
	for i, t := range Tables {
		g.Go(func() error {
			reads[i].rows, reads[i].err = s.readTable(ctx, t)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	owners := map[string][]string{}
	var firstErr error
	readTables := 0
	for i, t := range Tables {
		for _, r := range reads[i].rows {
			b.AddRecord(r)
			owners[t.LogicalName] = append(owners[t.LogicalName], r.ID)
		}
		if err := reads[i].err; err != nil {
			if firstErr == nil {
				firstErr = err
			}
			b.AddProblem(Problem{Severity: SeverityError, File: s.Name, Entity: t.LogicalName,
				Message: fmt.Sprintf("table could not be read after %d rows: %v", len(reads[i].rows), err)})
			continue
		}
		readTables++
	}
	if readTables == 0 {
		return nil, &ReadError{File: s.Name, Err: fmt.Errorf("no USD table could be read (is Unified Service Desk installed?): %w", firstErr)}
	}
	read := s.Memberships
	if read == nil {
		read = func(ctx context.Context, rel Relationship, pair func(owner, member string)) error {
			return s.navigationMemberships(ctx, rel, owners[rel.Entity1], pair)
		}
	}
	for _, rel := range Relationships {
		if err := readRelationship(ctx, b, rel, read, s.Name); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			b.AddProblem(Problem{Severity: SeverityError, File: s.Name, Entity: rel.Entity1, Field: rel.Name,
				Message: fmt.Sprintf("memberships could not be read: %v", err)})
		}
	}
	return b.Model(), nil
}

func (s *DataverseSource) readTable(ctx context.Context, t TableInfo) ([]Record, error) {
	var rows []Record
	for rec, err := range s.Client.Records(ctx, t.LogicalName, dataverse.Query{}) {
		if err != nil {
			return rows, err
		}
		rows = append(rows, Record{Entity: t.LogicalName, ID: rec.String(t.PrimaryID), Fields: webFields(rec), File: s.Name})
	}
	return rows, nil
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
// after the relationship, owners side by side. Pairs are handed on in
// owner order. Owners that are not GUIDs cannot be addressed and are
// reported by the builder's own checks, so they are skipped here.
func (s *DataverseSource) navigationMemberships(ctx context.Context, rel Relationship, owners []string, pair func(owner, member string)) error {
	if len(owners) == 0 {
		return nil
	}
	other, err := s.Client.Table(ctx, rel.Entity2)
	if err != nil {
		return err
	}
	q := dataverse.Query{Select: []string{other.PrimaryID}}
	members := make([][]string, len(owners))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency())
	for i, owner := range owners {
		id, err := uuid.Parse(owner)
		if err != nil {
			continue
		}
		g.Go(func() error {
			for rec, err := range s.Client.Related(gctx, rel.Entity1, dataverse.ByID(id), rel.Name, q) {
				if err != nil {
					return fmt.Errorf("%s(%s)/%s: %w", rel.Entity1, owner, rel.Name, err)
				}
				members[i] = append(members[i], rec.String(other.PrimaryID))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, owner := range owners {
		for _, m := range members[i] {
			pair(owner, m)
		}
	}
	return nil
}

// readRelationship reads the memberships of one relationship.
func readRelationship(ctx context.Context, b *Builder, rel Relationship,
	read func(context.Context, Relationship, func(owner, member string)) error, file string) error {
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
	if err := read(ctx, rel, pair); err != nil {
		return err
	}
	for _, from := range order {
		b.AddAssociation(Association{Relationship: rel.Name, SourceEntity: rel.Entity1, SourceID: from, TargetIDs: targets[from], File: file})
	}
	return nil
}
