// Package compare puts an Odoo helpdesk and a Dataverse Customer Service
// environment side by side: both are read into the canonical model
// (mapping/canonical), tickets are matched to cases and compared field by
// field, and the operations of both desks are summed up in one report.
//
// Record reconciliation streams both sides into an embedded SQLite store
// and merge-joins them in key order, pass after pass: through the
// migration's ID map when one is given, then Odoo reference ↔ ticketnumber,
// then customer e-mail and creation time. Memory stays bounded whatever the
// size of either side: nothing holds a side in a map.
package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/dvsync/dvsync/mapping/canonical"
)

// Source streams canonical tickets of one side, in any order.
type Source = iter.Seq2[canonical.Ticket, error]

// Pass names a matching pass.
const (
	PassIDMap  = "id-map"
	PassNumber = "number"
	PassEmail  = "email+created"
)

// Options configure a comparison.
type Options struct {
	// Model is the canonical model (map file and rules); required.
	Model *canonical.Model
	// IDMap returns the Dataverse incidentid the migration wrote for an
	// Odoo ticket id ("" when it has none). Nil skips the ID-map pass.
	IDMap func(ctx context.Context, odooID string) (string, error)
	// Queues streams (incidentid, queue name) pairs, so cases count under
	// their queue as tickets under their team; nil leaves cases without one.
	Queues iter.Seq2[[2]string, error]
	// Closings streams (incidentid, resolved at) pairs: case resolution
	// times live in incidentresolution, not on the incident.
	Closings iter.Seq2[Closing, error]
	// OdooSLA and DataverseSLA stream SLA outcomes (helpdesk.sla.status,
	// slakpiinstance); Entitlements the Dataverse entitlements. Nil leaves
	// the figure out.
	OdooSLA, DataverseSLA iter.Seq2[SLAOutcome, error]
	Entitlements          iter.Seq2[Entitlement, error]
	// OdooResponses and DataverseResponses stream when tickets and cases
	// were first answered (OdooFirstResponses, DataverseFirstResponses),
	// for time to first response; nil leaves that side out. Their
	// methods say how they were obtained (default: streamed).
	OdooResponses, DataverseResponses             iter.Seq2[FirstResponse, error]
	OdooResponsesMethod, DataverseResponsesMethod string
	// OdooServer and DataverseServer are figures the servers computed
	// (OdooServerCounts, DataverseServerCounts); they take the place of
	// the streamed figures for their side, and the report says so.
	OdooServer, DataverseServer *ServerCounts
	// Differences and Unmatched receive every field difference and every
	// unmatched record, as CSV and JSON Lines; nil discards.
	DifferencesCSV, DifferencesJSONL io.Writer
	UnmatchedCSV, UnmatchedJSONL     io.Writer
	// WorkDir holds the spill store while the comparison runs; "" is a
	// fresh temporary directory.
	WorkDir string
	// Samples bounds the differences and unmatched records kept in the
	// result for the report (default 25 each).
	Samples int
	// Now is the reference time of backlog and entitlement figures.
	Now time.Time
}

// Closing is when a case was resolved or cancelled.
type Closing struct {
	Incident string
	At       time.Time
}

// Difference is one field of one matched pair that is not equal.
type Difference struct {
	Number      string          `json:"number"`
	OdooID      string          `json:"odooId"`
	DataverseID string          `json:"dataverseId"`
	MatchedBy   string          `json:"matchedBy"`
	Field       string          `json:"field"`
	Class       canonical.Class `json:"class"`
	Odoo        string          `json:"odoo"`
	Dataverse   string          `json:"dataverse"`
}

// Unmatched is a record found on one side only.
type Unmatched struct {
	Side     canonical.Side `json:"side"`
	ID       string         `json:"id"`
	Number   string         `json:"number"`
	Customer string         `json:"customer"`
	Created  string         `json:"created"`
}

// Result is the record reconciliation.
type Result struct {
	OdooRecords      int64            `json:"odooRecords"`
	DataverseRecords int64            `json:"dataverseRecords"`
	Matched          int64            `json:"matched"`
	MatchedBy        map[string]int64 `json:"matchedBy"`
	OnlyInOdoo       int64            `json:"onlyInOdoo"`
	OnlyInDataverse  int64            `json:"onlyInDataverse"`
	// Differing counts matched records with at least one difference.
	Differing int64 `json:"differing"`
	// FieldDifferences counts differences per field; FieldClasses counts
	// every class per field (audit_helper's compare_column_values).
	FieldDifferences map[string]int64                     `json:"fieldDifferences"`
	FieldClasses     map[string]map[canonical.Class]int64 `json:"fieldClasses"`
	Fields           []string                             `json:"fields"`
	SampleDiffs      []Difference                         `json:"sampleDifferences"`
	SampleUnmatched  []Unmatched                          `json:"sampleUnmatched"`
	Operations       *Operations                          `json:"operations"`
}

// Clean reports whether every record matched with no difference.
func (r *Result) Clean() bool {
	return r.OnlyInOdoo == 0 && r.OnlyInDataverse == 0 && r.Differing == 0
}

// Run compares the two sides.
func Run(ctx context.Context, odoo, dataverse Source, o Options) (*Result, error) {
	if o.Model == nil {
		return nil, errors.New("compare: Options.Model is required")
	}
	if o.Samples <= 0 {
		o.Samples = 25
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	sp, err := openSpill(ctx, o.WorkDir)
	if err != nil {
		return nil, err
	}
	defer sp.close()
	e := &engine{o: o, md: o.Model, sp: sp, res: &Result{MatchedBy: map[string]int64{}, FieldDifferences: map[string]int64{},
		FieldClasses: map[string]map[canonical.Class]int64{}, Fields: o.Model.Rules().Fields}}
	for _, f := range e.res.Fields {
		e.res.FieldClasses[f] = map[canonical.Class]int64{}
	}
	if err := e.loadBoth(ctx, odoo, dataverse); err != nil {
		return nil, err
	}
	if err := e.loadExtras(ctx); err != nil {
		return nil, err
	}
	passes := []string{PassNumber, PassEmail}
	if o.IDMap != nil {
		passes = append([]string{PassIDMap}, passes...)
	}
	w := newWriters(o)
	ot, dt, left := source{table: "o"}, source{table: "d"}, ""
	for i, p := range passes {
		next := "num" // the last leftovers are listed by case number
		if i+1 < len(passes) {
			next = passColumn[passes[i+1]]
		}
		left = fmt.Sprintf("left%d", i)
		if err := e.pass(ctx, p, ot, dt, next, left, w); err != nil {
			return nil, fmt.Errorf("matching by %s: %w", p, err)
		}
		ot, dt = source{left, "o"}, source{left, "d"}
	}
	if err := e.unmatched(ctx, left, w); err != nil {
		return nil, err
	}
	if err := w.flush(); err != nil {
		return nil, fmt.Errorf("writing differences: %w", err)
	}
	if e.res.Operations, err = e.operations(ctx); err != nil {
		return nil, err
	}
	return e.res, nil
}

type engine struct {
	o   Options
	md  *canonical.Model
	sp  *spill
	res *Result
}
