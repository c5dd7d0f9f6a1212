// Package cmtseed writes a Configuration Migration Tool export into a
// Dataverse environment the way the CMT import does: every record with its
// own id, then every N:N membership. Tests use it to put a fixture USD
// configuration into the reference server, so that reading it back
// through the Web API can be compared with reading the zip.
package cmtseed

import (
	"archive/zip"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/usd"
)

// Stats counts what was written.
type Stats struct {
	Records      int
	Associations int
}

type xmlEntity struct {
	Name    string `xml:"name,attr"`
	Records []struct {
		ID     string `xml:"id,attr"`
		Fields []struct {
			Name   string `xml:"name,attr"`
			Value  string `xml:"value,attr"`
			Lookup string `xml:"lookupentity,attr"`
		} `xml:"field"`
	} `xml:"records>record"`
	M2M []struct {
		SourceID     string   `xml:"sourceid,attr"`
		TargetEntity string   `xml:"targetentityname,attr"`
		Name         string   `xml:"m2mrelationshipname,attr"`
		TargetIDs    []string `xml:"targetids>targetid"`
	} `xml:"m2mrelationships>m2mrelationship"`
}

// ImportFile writes the export at path through c, in batches: each
// table's records with their lookups to tables already written, then the
// remaining lookups (to later tables or within a table), then the
// memberships, so that lookups resolve whatever the file's order.
func ImportFile(ctx context.Context, c *dataverse.Client, path string) (Stats, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return Stats{}, err
	}
	defer zr.Close()
	f, err := zr.Open(usd.DataFile)
	if err != nil {
		return Stats{}, err
	}
	defer f.Close()
	var doc struct {
		Entities []xmlEntity `xml:"entity"`
	}
	if err := xml.NewDecoder(f).Decode(&doc); err != nil && err != io.EOF {
		return Stats{}, fmt.Errorf("%s: %w", usd.DataFile, err)
	}
	reg := c.Schema()
	var st Stats
	// Lookups to tables already written travel with the create; the rest
	// (to later tables, or within a table) follow in a second pass.
	written := map[string]bool{}
	deferred := map[string][]dataverse.Item{}
	var order []string
	for _, e := range doc.Entities {
		t, ok := reg.Table(e.Name)
		if !ok {
			return st, fmt.Errorf("table %s is not in the schema", e.Name)
		}
		var creates []dataverse.Item
		for _, r := range e.Records {
			id, err := uuid.Parse(r.ID)
			if err != nil {
				return st, fmt.Errorf("%s record %q: %w", e.Name, r.ID, err)
			}
			rec, later := dataverse.Record{}, dataverse.Record{}
			for _, fl := range r.Fields {
				col, ok := t.Column(fl.Name)
				if !ok {
					return st, fmt.Errorf("%s.%s is not in the schema", e.Name, fl.Name)
				}
				if fl.Name == t.PrimaryID {
					continue
				}
				if col.Type.IsLookup() {
					target, ok := reg.Table(fl.Lookup)
					if !ok {
						return st, fmt.Errorf("%s.%s points at unknown table %s", e.Name, fl.Name, fl.Lookup)
					}
					dst := later
					if written[fl.Lookup] {
						dst = rec
					}
					dst[col.NavigationProperty(fl.Lookup)+"@odata.bind"] = "/" + target.EntitySetName + "(" + fl.Value + ")"
					continue
				}
				v, err := webValue(col.Type, fl.Value)
				if err != nil {
					return st, fmt.Errorf("%s record %s field %s: %w", e.Name, r.ID, fl.Name, err)
				}
				rec[fl.Name] = v
			}
			creates = append(creates, dataverse.Item{Key: dataverse.ByID(id), Record: rec})
			if len(later) > 0 {
				if _, ok := deferred[e.Name]; !ok {
					order = append(order, e.Name)
				}
				deferred[e.Name] = append(deferred[e.Name], dataverse.Item{Key: dataverse.ByID(id), Record: later})
			}
		}
		n, err := writeAll(ctx, c, e.Name, creates, dataverse.ModeCreate)
		st.Records += n
		if err != nil {
			return st, err
		}
		written[e.Name] = true
	}
	for _, table := range order {
		if _, err := writeAll(ctx, c, table, deferred[table], dataverse.ModeUpdate); err != nil {
			return st, err
		}
	}
	type pair struct {
		entity, rel, target string
		src, dst            uuid.UUID
	}
	var pairs []pair
	for _, e := range doc.Entities {
		for _, m := range e.M2M {
			src, err := uuid.Parse(m.SourceID)
			if err != nil {
				return st, fmt.Errorf("%s membership list of %q: %w", m.Name, m.SourceID, err)
			}
			for _, tid := range m.TargetIDs {
				id, err := uuid.Parse(tid)
				if err != nil {
					return st, fmt.Errorf("%s member %q: %w", m.Name, tid, err)
				}
				pairs = append(pairs, pair{e.Name, m.Name, m.TargetEntity, src, id})
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, p := range pairs {
		g.Go(func() error {
			if err := c.Associate(gctx, p.entity, dataverse.ByID(p.src), p.rel, p.target, dataverse.ByID(p.dst)); err != nil {
				return fmt.Errorf("%s %s → %s: %w", p.rel, p.src, p.dst, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	st.Associations = len(pairs)
	return st, nil
}

// writeAll writes items in batches and fails on the first rejection.
func writeAll(ctx context.Context, c *dataverse.Client, table string, items []dataverse.Item, mode dataverse.WriteMode) (int, error) {
	for i := range items {
		items[i].Ref = int64(i)
	}
	var firstErr error
	n := 0
	err := c.WriteAll(ctx, table, slices.Values(items), dataverse.BatchOptions{Mode: mode}, func(r dataverse.Result) {
		if r.Outcome == dataverse.OutcomeRejected {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s record %s: %w", table, items[r.Ref].Key.ID, r.Err)
			}
			return
		}
		n++
	})
	if err == nil {
		err = firstErr
	}
	return n, err
}

// webValue turns CMT text into the JSON value a column takes.
func webValue(t schema.ColumnType, v string) (any, error) {
	switch t {
	case schema.TypeInteger, schema.TypePicklist, schema.TypeState, schema.TypeStatus:
		return strconv.Atoi(v)
	case schema.TypeBoolean:
		return strconv.ParseBool(v)
	}
	return v, nil
}
