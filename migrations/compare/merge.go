package compare

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/dvsync/dvsync/mapping/canonical"
)

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func unixTime(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// spilled is one record ready for its side's heap table.
type spilled struct {
	side canonical.Side
	args []any
}

// loadBoth reads the two sides at the same time (each reader waits on its
// own server) and writes both heap tables through one writer, SQLite
// taking one write transaction at a time; the channel between them is
// bounded, so a fast side waits for the writer instead of piling up.
func (e *engine) loadBoth(ctx context.Context, odoo, dataverse Source) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan spilled, 256)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, src := range []Source{odoo, dataverse} {
		side := []canonical.Side{canonical.Odoo, canonical.Dataverse}[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int64
			for t, err := range src {
				if err == nil {
					var args []any
					args, err = e.row(ctx, side, t, n)
					if err == nil {
						select {
						case ch <- spilled{side, args}:
						case <-ctx.Done():
							return
						}
						n++
						continue
					}
				}
				errs[i] = err
				cancel()
				return
			}
		}()
	}
	go func() { wg.Wait(); close(ch) }()
	in := e.sp.inserter(ctx, "")
	defer in.abort()
	odooSQL, dvSQL := insertSideSQL("oh"), insertSideSQL("dh")
	var werr error
	for r := range ch {
		if werr != nil {
			continue // drain, so the readers can finish
		}
		q := odooSQL
		if r.side == canonical.Dataverse {
			q = dvSQL
			e.res.DataverseRecords++
		} else {
			e.res.OdooRecords++
		}
		if err := in.addTo(q, r.args...); err != nil {
			werr = fmt.Errorf("spill store: %w", err)
			cancel()
		}
	}
	if errs[0] != nil {
		return fmt.Errorf("reading Odoo tickets: %w", errs[0])
	}
	if errs[1] != nil {
		return fmt.Errorf("reading Dataverse cases: %w", errs[1])
	}
	if werr != nil {
		return werr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := in.flush(); err != nil {
		return err
	}
	for _, t := range []string{"o", "d"} {
		for _, stmt := range []string{`INSERT INTO ` + t + ` SELECT * FROM ` + t + `h ORDER BY k, seq`, `DROP TABLE ` + t + `h`} {
			if _, err := e.sp.db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("spill store: %w", err)
			}
		}
	}
	return nil
}

// row is the spilled form of one ticket: keys for every pass, the
// normalised values, and the dimensions of the operations figures.
func (e *engine) row(ctx context.Context, side canonical.Side, t canonical.Ticket, seq int64) ([]any, error) {
	rules := e.md.Rules()
	idk := ""
	switch {
	case side == canonical.Dataverse:
		idk = lowerKey(t.SourceID)
	case e.o.IDMap != nil:
		id, err := e.o.IDMap(ctx, t.SourceID)
		if err != nil {
			return nil, fmt.Errorf("ID map: %w", err)
		}
		idk = lowerKey(id)
	}
	ek := ""
	if email := strings.ToLower(strings.TrimSpace(t.CustomerEmail)); email != "" && !t.Created.IsZero() {
		ek = email + "|" + rules.Time(t.Created)
	}
	month := ""
	if !t.Created.IsZero() {
		month = t.Created.In(rules.Location).Format("2006-01")
	}
	k := t.Number
	if e.o.IDMap != nil {
		k = idk
	}
	return []any{k, seq, t.SourceID, t.Number, idk, ek, encodeVals(e.md.Values(side, t)), t.Team, e.md.StatusLabel(t),
		e.md.PriorityLabel(t), e.md.ChannelLabel(t), t.Customer, month, t.State, unix(t.Created), unix(t.Closed)}, nil
}

// loadExtras brings the case queues and resolution times in, and puts
// them on the cases with two set-based updates.
func (e *engine) loadExtras(ctx context.Context) error {
	if e.o.Queues != nil {
		in := e.sp.inserter(ctx, `INSERT INTO queue (incident, name) VALUES (?, ?)`)
		for q, err := range e.o.Queues {
			if err != nil {
				in.abort()
				return fmt.Errorf("reading Dataverse queue items: %w", err)
			}
			if err := in.add(lowerKey(q[0]), q[1]); err != nil {
				in.abort()
				return err
			}
		}
		if err := in.flush(); err != nil {
			return err
		}
	}
	if e.o.Closings != nil {
		in := e.sp.inserter(ctx, `INSERT INTO closing (incident, at) VALUES (?, ?)`)
		for c, err := range e.o.Closings {
			if err != nil {
				in.abort()
				return fmt.Errorf("reading Dataverse case resolutions: %w", err)
			}
			if err := in.add(lowerKey(c.Incident), unix(c.At)); err != nil {
				in.abort()
				return err
			}
		}
		if err := in.flush(); err != nil {
			return err
		}
	}
	if err := e.loadResponses(ctx, "o", e.o.OdooResponses); err != nil {
		return fmt.Errorf("reading Odoo answers: %w", err)
	}
	if err := e.loadResponses(ctx, "d", e.o.DataverseResponses); err != nil {
		return fmt.Errorf("reading Dataverse first-response KPIs: %w", err)
	}
	for _, stmt := range []string{
		`CREATE INDEX response_ticket ON response (side, ticket)`,
		`CREATE INDEX queue_incident ON queue (incident)`,
		`CREATE INDEX closing_incident ON closing (incident)`,
		`UPDATE d SET team = (SELECT name FROM queue WHERE queue.incident = d.idk LIMIT 1) WHERE EXISTS (SELECT 1 FROM queue WHERE queue.incident = d.idk)`,
		// The latest resolution of a case that is closed now.
		`UPDATE d SET closed = (SELECT max(at) FROM closing WHERE closing.incident = d.idk) WHERE state <> 'active' AND EXISTS (SELECT 1 FROM closing WHERE closing.incident = d.idk)`,
	} {
		if _, err := e.sp.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("spill store: %w", err)
		}
	}
	return nil
}

var passColumn = map[string]string{PassIDMap: "idk", PassNumber: "num", PassEmail: "ek"}

type row struct {
	k                                    string
	seq                                  int64
	src, num, idk, ek, vals, cust, state string
	created, closed                      int64
}

// column is the row's value of a pass key column.
func (r *row) column(col string) string {
	switch col {
	case "idk":
		return r.idk
	case "ek":
		return r.ek
	}
	return r.num
}

type cursor struct {
	rows *sql.Rows
	cur  row
	ok   bool
	err  error
}

func (c *cursor) next() {
	if c.ok = c.rows.Next(); c.ok {
		r := &c.cur
		c.err = c.rows.Scan(&r.k, &r.seq, &r.src, &r.num, &r.idk, &r.ek, &r.vals, &r.cust, &r.created, &r.state, &r.closed)
		c.ok = c.err == nil
	} else {
		c.err = c.rows.Err()
	}
}

// source is a side's records for a pass: a side table, or one side of a
// leftover table.
type source struct{ table, side string }

// open reads a table in its clustered order, (k, seq): no sort.
func (e *engine) open(ctx context.Context, src source) (*cursor, error) {
	q := `SELECT k, seq, src, num, idk, ek, vals, customer, created, state, closed FROM ` + src.table
	var args []any
	if src.side != "" {
		q += ` WHERE side = ?`
		args = append(args, src.side)
	}
	rows, err := e.sp.db.QueryContext(ctx, q+` ORDER BY k, seq`, args...)
	if err != nil {
		return nil, err
	}
	c := &cursor{rows: rows}
	c.next()
	return c, c.err
}

// pass merge-joins two tables clustered on the pass's key: both cursors
// advance in key order and equal keys pair up (duplicates pair in load
// order). What does not pair, or has no key, goes to the next pass's
// tables, clustered on its key (nextCol); after the last pass, on the
// case number, for the unmatched listing.
//
// Leftovers of both sides go to one table (side, k, seq) through one
// writer: SQLite takes one write transaction at a time.
func (e *engine) pass(ctx context.Context, pass string, ot, dt source, nextCol, left string, w *writers) error {
	if _, err := e.sp.db.ExecContext(ctx, fmt.Sprintf(leftSchema, left)); err != nil {
		return err
	}
	oc, err := e.open(ctx, ot)
	if err != nil {
		return err
	}
	defer oc.rows.Close()
	dc, err := e.open(ctx, dt)
	if err != nil {
		return err
	}
	defer dc.rows.Close()
	in := e.sp.inserter(ctx, `INSERT INTO `+left+` (side, k, seq, src, num, idk, ek, vals, customer, created, state, closed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	defer in.abort()
	leave := func(side string, r *row) error {
		return in.add(side, r.column(nextCol), r.seq, r.src, r.num, r.idk, r.ek, r.vals, r.cust, r.created, r.state, r.closed)
	}
	for oc.ok || dc.ok {
		switch {
		case oc.ok && oc.cur.k == "":
			err = leave("o", &oc.cur)
			oc.next()
		case dc.ok && dc.cur.k == "":
			err = leave("d", &dc.cur)
			dc.next()
		case !dc.ok || (oc.ok && oc.cur.k < dc.cur.k):
			err = leave("o", &oc.cur)
			oc.next()
		case !oc.ok || oc.cur.k > dc.cur.k:
			err = leave("d", &dc.cur)
			dc.next()
		default:
			err = e.comparePair(pass, oc.cur, dc.cur, w)
			oc.next()
			dc.next()
		}
		if err != nil {
			return err
		}
	}
	if oc.err != nil || dc.err != nil {
		return fmt.Errorf("spill store: %w", firstErr(oc.err, dc.err))
	}
	return in.flush()
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (e *engine) comparePair(pass string, o, d row, w *writers) error {
	ov, err := decodeVals(o.vals)
	if err != nil {
		return err
	}
	dv, err := decodeVals(d.vals)
	if err != nil {
		return err
	}
	e.res.Matched++
	e.res.MatchedBy[pass]++
	differs := false
	for i, f := range e.res.Fields {
		if f == canonical.FieldClosed {
			// Case resolution times arrive after the cases (loadExtras), so
			// this field is read from the columns, not the values.
			ov[i], dv[i] = e.md.ClosedValue(o.state, unixTime(o.closed)), e.md.ClosedValue(d.state, unixTime(d.closed))
		}
		c := e.md.Classify(f, ov[i], dv[i])
		e.res.FieldClasses[f][c]++
		if !c.IsDifference() {
			continue
		}
		differs = true
		e.res.FieldDifferences[f]++
		diff := Difference{Number: d.num, OdooID: o.src, DataverseID: d.src, MatchedBy: pass, Field: f, Class: c, Odoo: ov[i], Dataverse: dv[i]}
		if diff.Number == "" {
			diff.Number = o.num
		}
		if len(e.res.SampleDiffs) < e.o.Samples {
			e.res.SampleDiffs = append(e.res.SampleDiffs, diff)
		}
		if err := w.diff(diff); err != nil {
			return err
		}
	}
	if differs {
		e.res.Differing++
	}
	return nil
}

// unmatched lists what no pass matched, side by side, from the last
// pass's leftovers (clustered on the case number).
func (e *engine) unmatched(ctx context.Context, left string, w *writers) error {
	for _, side := range []canonical.Side{canonical.Odoo, canonical.Dataverse} {
		rows, err := e.sp.db.QueryContext(ctx, `SELECT src, num, customer, created FROM `+left+` WHERE side = ? ORDER BY k, seq`, sideTable(side))
		if err != nil {
			return err
		}
		for rows.Next() {
			var u Unmatched
			var created int64
			if err := rows.Scan(&u.ID, &u.Number, &u.Customer, &created); err != nil {
				rows.Close()
				return err
			}
			u.Side = side
			if created != 0 {
				u.Created = time.Unix(created, 0).In(e.md.Rules().Location).Format("2006-01-02 15:04")
			}
			if side == canonical.Odoo {
				e.res.OnlyInOdoo++
			} else {
				e.res.OnlyInDataverse++
			}
			if len(e.res.SampleUnmatched) < e.o.Samples {
				e.res.SampleUnmatched = append(e.res.SampleUnmatched, u)
			}
			if err := w.unmatched(u); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// writers stream differences and unmatched records to CSV and JSONL.
type writers struct {
	dcsv, ucsv   *csv.Writer
	djson, ujson *json.Encoder
	bufs         []*bufio.Writer
}

func newWriters(o Options) *writers {
	w := &writers{}
	buf := func(x io.Writer) *bufio.Writer {
		b := bufio.NewWriterSize(x, 64<<10)
		w.bufs = append(w.bufs, b)
		return b
	}
	if o.DifferencesCSV != nil {
		w.dcsv = csv.NewWriter(buf(o.DifferencesCSV))
		w.dcsv.Write([]string{"number", "odoo_id", "dataverse_id", "matched_by", "field", "class", "odoo", "dataverse"})
	}
	if o.UnmatchedCSV != nil {
		w.ucsv = csv.NewWriter(buf(o.UnmatchedCSV))
		w.ucsv.Write([]string{"side", "id", "number", "customer", "created"})
	}
	if o.DifferencesJSONL != nil {
		w.djson = json.NewEncoder(buf(o.DifferencesJSONL))
		w.djson.SetEscapeHTML(false)
	}
	if o.UnmatchedJSONL != nil {
		w.ujson = json.NewEncoder(buf(o.UnmatchedJSONL))
		w.ujson.SetEscapeHTML(false)
	}
	return w
}

func (w *writers) diff(d Difference) error {
	if w.dcsv != nil {
		if err := w.dcsv.Write([]string{d.Number, d.OdooID, d.DataverseID, d.MatchedBy, d.Field, string(d.Class), d.Odoo, d.Dataverse}); err != nil {
			return err
		}
	}
	if w.djson != nil {
		return w.djson.Encode(d)
	}
	return nil
}

func (w *writers) unmatched(u Unmatched) error {
	if w.ucsv != nil {
		if err := w.ucsv.Write([]string{string(u.Side), u.ID, u.Number, u.Customer, u.Created}); err != nil {
			return err
		}
	}
	if w.ujson != nil {
		return w.ujson.Encode(u)
	}
	return nil
}

func (w *writers) flush() error {
	for _, c := range []*csv.Writer{w.dcsv, w.ucsv} {
		if c != nil {
			c.Flush()
			if err := c.Error(); err != nil {
				return err
			}
		}
	}
	for _, b := range w.bufs {
		if err := b.Flush(); err != nil {
			return err
		}
	}
	return nil
}
