package migrations

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/odoo"
)

// OdooSource streams the records of one Odoo model, in id order (Stream) or
// in (write_date, id) order (Changes), with a cursor that resumes the read:
// "<id>" for Stream, "<write_date RFC 3339>|<id>" for Changes.
//
// SourceRecord.ID is the Odoo id; Data holds the record's raw JSON values
// (json.RawMessage), which OdooRecord turns back into an odoo.Record for
// the typed accessors, and which a rejects file shows exactly as Odoo sent
// them.
type OdooSource struct {
	Client *odoo.Client
	Model  string
	// Options select fields and a domain; Parallel keeps id order, so it
	// is safe with cursors.
	Options odoo.StreamOptions
	// Changes reads in (write_date, id) order, for sync jobs: the cursor
	// is then a watermark.
	Changes bool
}

var _ CountingSource = (*OdooSource)(nil)

// Count implements CountingSource with search_count over the same domain.
func (s *OdooSource) Count(ctx context.Context, cursor string) (int64, error) {
	d, err := s.domain(cursor)
	if err != nil {
		return 0, err
	}
	n, err := s.Client.SearchCount(ctx, s.Model, d, s.Options.Context)
	return int64(n), err
}

// domain is the Stream domain from cursor; for Changes, the records written
// at or after the watermark (a slight overcount of the ties at its instant).
func (s *OdooSource) domain(cursor string) (odoo.Domain, error) {
	d := s.Options.Domain
	if cursor == "" {
		return d, nil
	}
	if s.Changes {
		w, err := parseOdooWatermark(cursor)
		if err != nil {
			return d, err
		}
		return odoo.And(d, odoo.Cond("write_date", odoo.Ge, odoo.FormatDatetime(w.WriteDate))), nil
	}
	after, err := strconv.Atoi(cursor)
	if err != nil {
		return d, fmt.Errorf("odoo source %s: bad cursor %q", s.Model, cursor)
	}
	return odoo.And(d, odoo.Cond("id", odoo.Gt, after)), nil
}

// Records implements Source.
func (s *OdooSource) Records(ctx context.Context, cursor string) iter.Seq2[SourceRecord, error] {
	return func(yield func(SourceRecord, error) bool) {
		o := s.Options
		var recs iter.Seq2[odoo.Record, error]
		if s.Changes {
			since, err := parseOdooWatermark(cursor)
			if err != nil {
				yield(SourceRecord{}, err)
				return
			}
			recs = s.Client.Changes(ctx, s.Model, since, o)
		} else {
			d, err := s.domain(cursor)
			if err != nil {
				yield(SourceRecord{}, err)
				return
			}
			o.Domain = d
			recs = s.Client.Stream(ctx, s.Model, o)
		}
		for r, err := range recs {
			if err != nil {
				yield(SourceRecord{}, err)
				return
			}
			id := r.ID()
			next := strconv.Itoa(id)
			if s.Changes {
				wd, err := r.Time("write_date")
				if err != nil {
					yield(SourceRecord{}, fmt.Errorf("odoo source %s: record %d: %w", s.Model, id, err))
					return
				}
				next = wd.UTC().Format(time.RFC3339Nano) + "|" + next
			}
			data := make(map[string]any, len(r))
			for k, v := range r {
				data[k] = v
			}
			if !yield(SourceRecord{ID: strconv.Itoa(id), Cursor: next, Data: data}, nil) {
				return
			}
		}
	}
}

func parseOdooWatermark(cursor string) (odoo.Watermark, error) {
	if cursor == "" {
		return odoo.Watermark{}, nil
	}
	ts, idText, ok := strings.Cut(cursor, "|")
	t, err := time.Parse(time.RFC3339Nano, ts)
	id, ierr := strconv.Atoi(idText)
	if !ok || err != nil || ierr != nil {
		return odoo.Watermark{}, fmt.Errorf("odoo source: bad watermark cursor %q", cursor)
	}
	return odoo.Watermark{WriteDate: t, ID: id}, nil
}

// OdooRecord returns the odoo.Record an OdooSource read, for its typed
// accessors (Many2One, Time, ...).
func OdooRecord(r SourceRecord) odoo.Record {
	rec := make(odoo.Record, len(r.Data))
	for k, v := range r.Data {
		switch x := v.(type) {
		case json.RawMessage:
			rec[k] = x
		default:
			// Data built by hand (tests): re-encode.
			b, err := json.Marshal(x)
			if err == nil {
				rec[k] = b
			}
		}
	}
	return rec
}
