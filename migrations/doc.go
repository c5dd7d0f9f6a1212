// Package migrations is the job engine every dvsync migration and sync runs
// on: it plans, runs, resumes and verifies jobs that move records from a
// source (Odoo, a USD configuration, Dataverse) into a target (Dataverse,
// files), keeping its state in a Store.
//
// # Jobs and steps
//
// A Job is a name and a list of Steps. A Step reads a Source, translates
// every record with a pure MapFunc and writes the result to a Target:
//
//	job := &migrations.Job{Name: "odoo-helpdesk", Steps: []*migrations.Step{
//		{Name: "customers", Source: partners, Map: mapPartner, Target: dv},
//		{Name: "tickets", DependsOn: []string{"customers", "teams"}, Source: tickets, Map: mapTicket, Target: dv},
//	}}
//	sum, err := migrations.Run(ctx, job, migrations.RunOptions{Store: store, Rejects: rejectsFile})
//
// Steps run in dependency order (declaration order among independent ones;
// with RunOptions.ParallelSteps > 1 independent steps run at the same time).
// Within a step, records stream from the source, are mapped one by one and
// written in batches of RunOptions.BatchSize target records, with up to
// RunOptions.Concurrency batches in flight. Memory is bounded by
// Concurrency batches, never by the size of a table.
//
// A Source yields SourceRecords in a stable order, each with a stable ID and
// a Cursor from which reading again yields exactly the records after it
// (a keyset id, a (write_date, id) watermark, a delta token: see
// SourceRecord). Sources live with their jobs (migrations/odoojob reads
// Odoo).
//
// A MapFunc returns target records (Write), a deliberate Skip with a reason,
// or a Reject with an error. It does no I/O except looking up, through IDs,
// the target records earlier steps wrote for a source ID; so a dry run,
// a resume and Verify all see exactly what a run writes. Each TargetRecord
// has a table, a Key (alternate-key values, or a deterministic ID from
// DeterministicID), fields, and typed instructions for the writer: a State
// to move the record to, MatchOnly for records that must exist already,
// N:N Links.
//
// A Target writes a batch and returns one WriteResult per record: Created,
// Updated, Written (create-or-update, the target did not say which),
// Unchanged or Rejected with the target's error. Writes must be idempotent
// (upsert by key), because a batch whose commit was lost is written again
// on resume. A failure that is not the record's own (the service still
// failing after the client's retries, cancelled, unauthorised) is an
// error: the run stops and a resume writes the batch again. The one
// Dataverse target is dataverse/sink; the target conformance suite in
// dataverse/sink/sinktest holds any Target to these rules.
//
// # State, checkpoints and crash safety
//
// The Store (SQLiteStore by default, one file, schema versioned and
// upgraded on open) keeps per step the cursor after the last batch that is
// durable in the target, the source-ID → target-record map, the records
// currently rejected and skipped, named values (watermarks, delta tokens:
// Store.Value) and a run journal. Batches may finish out of order; they are
// committed in source order, each commit atomically storing the batch's
// ID-map entries, rejects, skips, counts and the new cursor, and only after
// the target confirmed the whole batch. Killing the process at any moment
// therefore loses at most the batches in flight, which the next run reads
// and writes again: the target upserts them (nothing duplicated) and the
// checkpoint never passed them (nothing lost). A run started after a
// complete one reads only what follows the last cursor (new records, for
// keyset or watermark cursors); RunOptions.Restart re-reads everything and
// updates in place.
//
// # Accounting and rejects
//
// Every source record read ends as exactly one of created, updated,
// written, unchanged, skipped or rejected (Counts). The engine checks
// read = created + updated + written + unchanged + skipped + rejected for
// every step and fails the run with a *ReconcileError otherwise. A source
// record mapped to several target records counts once (rejected if any of
// them was rejected); TableCounts count target records per table. Rejected
// records go to the rejects file as JSON lines (RejectLine: source record,
// step, reason, error, the target records for write rejects) and the run
// goes on. Rejects are written before their batch is committed, so a crash
// can repeat a line but never lose one; Store.Rejects holds the exact
// current set, and a record written successfully later leaves it.
// Store.Skips does the same for skipped records (with their reasons), so
// skips committed by several processes can be grouped and listed.
//
// Warnings (MapResult.Warnings, MapResult.WithWarnings) are fallbacks the
// mapping took that changed the data: they are counted in Counts.Warned,
// which is informational and outside the reconciliation, kept in the run
// journal, written one JSON line each to RunOptions.Warnings (WarningLine)
// and sampled in StepSummary.Warnings.
//
// # Dry run
//
// Plan runs the job without writing to the target or the store: every step
// reads from its checkpoint and maps every record; the Summary has counts
// per step and per table and a sample of the first target records. Lookups
// see what the plan itself would have written (in memory, one entry per
// mapped source record) as well as the store's ID map.
//
// # Verify
//
// Verify re-reads each step's source, maps it as a run would (with the IDs
// the runs recorded) and looks up every expected target record, or a
// seeded random sample, through a TargetReader. The Report counts, per step
// and table, records found, missing, duplicated and differing (field by
// field, with CompareFunc; the sink's Compare also checks @odata.bind
// lookups and states), separates missing records whose source record is a recorded
// reject, and renders as JSON (WriteJSON) or one self-contained HTML page
// (WriteHTML).
//
// # Progress and logging
//
// RunOptions.Progress receives each step's counts after every committed
// batch, for progress bars; RunOptions.Logger (log/slog) gets one line per
// step start and end, and debug lines per batch and reject. Every call
// takes a context and stops promptly when it is cancelled, leaving the
// state consistent for a resume.
//
// Package migrationstest has an in-memory Source and an idempotent,
// fault-injecting Target for tests of jobs built on this package.
package migrations
