package compare

import (
	"context"
	"fmt"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/mapping/canonical"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

// OdooConfig is one comparison of an Odoo helpdesk with a Dataverse
// environment: what `dvsync compare` runs, and `dvsync demo` after its
// migration.
type OdooConfig struct {
	Odoo *odoo.Client
	// Database is the Odoo database (it names the migration's job).
	Database  string
	Dataverse *dataverse.Client
	// Model is the canonical model; nil builds it from Map (nil: the
	// default map), so a caller holding the migration's map needs no more.
	Model *canonical.Model
	Map   *odoodv.Map
	// Store, when set, is the migration's state: tickets are matched to
	// cases through its ID map first.
	Store migrations.Store
	// Since limits both sides to records created on or after it.
	Since time.Time
	// Out is the folder the report files are written to.
	Out string
	// Requests, when set, returns the requests sent so far to Odoo and to
	// Dataverse, so the report can say what the comparison cost.
	Requests func() (odoo, dataverse int64)
	// Meta describes the sides in the report (URLs, map and state file).
	Meta Report
	Now  time.Time
}

// OdooVersusDataverse reads both sides, groups what the servers can group,
// reconciles the records and writes the report files into cfg.Out.
func OdooVersusDataverse(ctx context.Context, cfg OdooConfig) (*Report, error) {
	if cfg.Odoo == nil || cfg.Dataverse == nil || cfg.Out == "" {
		return nil, fmt.Errorf("compare: OdooConfig needs Odoo and Dataverse clients and Out")
	}
	if cfg.Model == nil {
		md, err := canonical.New(cfg.Map)
		if err != nil {
			return nil, err
		}
		cfg.Model = md
	}
	if cfg.Meta.MapFile == "" {
		cfg.Meta.MapFile = "the migration's map"
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	count := cfg.Requests
	if count == nil {
		count = func() (int64, int64) { return 0, 0 }
	}
	r, err := helpdesk.Detect(ctx, cfg.Odoo)
	if err != nil {
		return nil, fmt.Errorf("odoo: %w", err)
	}
	md, dv := cfg.Model, cfg.Dataverse
	opts := Options{Model: md, Queues: DataverseQueues(ctx, dv), Closings: DataverseClosings(ctx, dv),
		DataverseSLA: DataverseSLA(ctx, dv), Entitlements: DataverseEntitlements(ctx, dv), Now: cfg.Now,
		OdooResponses: OdooFirstResponses(ctx, r), OdooResponsesMethod: MethodOdooGroup,
		DataverseResponses: DataverseFirstResponses(ctx, dv), DataverseResponsesMethod: MethodStreamed}
	o0, d0 := count()
	if opts.OdooServer, err = OdooServerCounts(ctx, r, md, cfg.Since, cfg.Now); err != nil {
		return nil, fmt.Errorf("odoo: %w", err)
	}
	if opts.DataverseServer, _, err = DataverseServerCounts(ctx, dv, md, cfg.Since); err != nil {
		return nil, err
	}
	o1, d1 := count()
	if cfg.Store != nil {
		opts.IDMap = StateIDMap(cfg.Store, OdooJobName(cfg.Database))
	}
	rep, err := RunToDir(ctx, OdooTickets(ctx, r, md, cfg.Since), DataverseCases(ctx, dv, md, cfg.Since), opts, cfg.Out, cfg.Meta)
	if err != nil {
		return nil, err
	}
	rep.OdooRequests, rep.DataverseRequests = count()
	rep.AggregateRequests = map[string]int64{"odoo": o1 - o0, "dataverse": d1 - d0}
	// Written again so the files carry the final request counts.
	return rep, rep.Write(cfg.Out)
}
