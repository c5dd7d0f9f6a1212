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
	"strconv"

	"github.com/google/uuid"

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

// ImportFile writes the export at path through c. Records are created in
// two passes (columns first, lookups second) so that lookups between rows
// of any tables resolve whatever the file's order.
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
	type lookup struct {
		table string
		id    uuid.UUID
		rec   dataverse.Record
	}
	var lookups []lookup
	for _, e := range doc.Entities {
		t, ok := reg.Table(e.Name)
		if !ok {
			return st, fmt.Errorf("table %s is not in the schema", e.Name)
		}
		for _, r := range e.Records {
			id, err := uuid.Parse(r.ID)
			if err != nil {
				return st, fmt.Errorf("%s record %q: %w", e.Name, r.ID, err)
			}
			plain, binds := dataverse.Record{t.PrimaryID: id.String()}, dataverse.Record{}
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
					binds[col.NavigationProperty(fl.Lookup)+"@odata.bind"] = "/" + target.EntitySetName + "(" + fl.Value + ")"
					continue
				}
				v, err := webValue(col.Type, fl.Value)
				if err != nil {
					return st, fmt.Errorf("%s record %s field %s: %w", e.Name, r.ID, fl.Name, err)
				}
				plain[fl.Name] = v
			}
			if _, err := c.Create(ctx, e.Name, plain); err != nil {
				return st, fmt.Errorf("%s record %s: %w", e.Name, r.ID, err)
			}
			st.Records++
			if len(binds) > 0 {
				lookups = append(lookups, lookup{e.Name, id, binds})
			}
		}
	}
	for _, l := range lookups {
		if err := c.Update(ctx, l.table, dataverse.ByID(l.id), l.rec, nil); err != nil {
			return st, fmt.Errorf("%s record %s lookups: %w", l.table, l.id, err)
		}
	}
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
				if err := c.Associate(ctx, e.Name, dataverse.ByID(src), m.Name, m.TargetEntity, dataverse.ByID(id)); err != nil {
					return st, fmt.Errorf("%s %s → %s: %w", m.Name, src, id, err)
				}
				st.Associations++
			}
		}
	}
	return st, nil
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
