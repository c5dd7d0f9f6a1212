// Package usdjob is the migration of a Unified Service Desk configuration
// into the Copilot Service workspace, as one migrations.Job on the same
// engine and the same Dataverse sink as every other migration: its plan
// is the engine's dry run, a re-run writes nothing, its verify is the
// engine's verify, and its outcomes are the engine's (created, updated,
// unchanged, skipped, rejected).
//
// The source is the USD configuration (read from a Configuration
// Migration Tool export or an environment by package usd) as
// mapping/workspace translates it. The translation is pure but works on
// the whole configuration at once (unique names are handed out across
// it, macros are shared between triggers), so it runs before the job and
// each step serves one table of its output, in workspace.TableOrder: a
// record only refers to records of earlier steps, and its mapping checks
// through the engine's ID map that they were written. N:N associations
// travel as typed links (migrations.TargetRecord.Links) on whichever of
// their two records is written last, so both exist when the sink links
// them; Dataverse names an N:N relationship's collection-valued
// navigation property after the relationship on both tables
// (web-api-navigation-properties.md, ManyToManyRelationshipMetadata
// Entity1/Entity2NavigationPropertyName), so either side can make it.
//
// Every record is found by its unique name before the job starts (one In
// filter per 50 names, no alternate key needed), which gives each record
// its ID: the one it has, or RecordID for one not written yet. Lookups
// and links bind by that ID, so the sink's unchanged detection compares
// them and a re-run of an unchanged configuration sends no write. Records
// are written by their unique-name alternate key,
// <set>(msdyn_uniquename='…') (use-upsert-insert-update-record.md), or,
// where the environment lacks that key, by ID (see Addressing).
package usdjob

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/migrations"
)

// JobName is the state-store name of the USD migrations into the
// environment at serviceRoot: one job per target, so a state store shared
// between environments keeps their ID maps apart.
func JobName(serviceRoot string) string {
	host := serviceRoot
	if u, err := url.Parse(serviceRoot); err == nil && u.Host != "" {
		host = u.Host
	}
	return "usd/" + host
}

// Config is one migration of a translated USD configuration into an
// environment. The zero values of the tuning fields take the engine's
// defaults.
type Config struct {
	// Dataverse is the environment written to.
	Dataverse *dataverse.Client
	// Translation is what mapping/workspace made of the USD configuration.
	Translation *workspace.Result
	// Addressing is how records are named when written; empty is
	// AddressAuto.
	Addressing Addressing
	// Store keeps checkpoints, the ID map, rejects and the journal (see
	// migrations/statestore). A run needs one; a dry run never uses it,
	// so it writes nothing anywhere.
	Store  migrations.Store
	DryRun bool
	// Fresh starts over: the job's state in Store (checkpoints, ID map,
	// the environment it belongs to) is cleared under the job's lock
	// before the run, as after a reset of the environment. Not with DryRun.
	Fresh bool
	// BatchSize and Concurrency tune the engine (RunOptions); Concurrency
	// also bounds the reads before the job and the lookups of verify.
	BatchSize   int
	Concurrency int
	// Rejects and Warnings receive the engine's JSON lines; nil discards
	// them (the Result still lists every reject).
	Rejects  io.Writer
	Warnings io.Writer
	// Progress reports the steps of a run or plan; VerifyProgress the
	// records verify checked. Neither is called concurrently.
	Progress       func(migrations.StepProgress)
	VerifyProgress func(migrations.StepProgress)
	Logger         *slog.Logger
}

func (c Config) readers() int { return cmp.Or(max(c.Concurrency, 0), 8) }

// Prepared is a migration ready to plan, run or verify.
type Prepared struct {
	Job *migrations.Job
	// Sink writes the job's records and reads them back.
	Sink *sink.Sink
	// Addressing is how records are named: by key or by ID.
	Addressing Addressing
	// Keyless lists the tables without an alternate key on the unique
	// name when AddressAuto chose AddressByID.
	Keyless []string
	// Duplicates lists unique names more than one record holds (only
	// possible without an alternate key); the oldest is kept in step and
	// verify reports the others.
	Duplicates []workspace.Ref

	cfg    Config
	book   *addressBook
	target *recorder
}

// Prepare decides the addressing, finds which translated records the
// environment holds, and declares the job. It reads and never writes.
func Prepare(ctx context.Context, cfg Config) (*Prepared, error) {
	if cfg.Dataverse == nil || cfg.Translation == nil {
		return nil, errors.New("usdjob: Config needs a Dataverse client and a translation")
	}
	var tables []string
	for _, r := range cfg.Translation.Records {
		if !slices.Contains(workspace.TableOrder, r.Table) {
			return nil, fmt.Errorf("usd migrate: %s %s: table %s is not one the workspace translation writes", r.Table, r.UniqueName, r.Table)
		}
		if !slices.Contains(tables, r.Table) {
			tables = append(tables, r.Table)
		}
	}
	mode, keyless, err := resolveAddressing(ctx, cfg.Dataverse, cfg.Addressing, tables, cfg.readers())
	if err != nil {
		return nil, err
	}
	book, err := readAddressBook(ctx, cfg.Dataverse, mode, cfg.Translation, cfg.readers())
	if err != nil {
		return nil, err
	}
	s := sink.New(cfg.Dataverse, nil)
	p := &Prepared{Sink: s, Addressing: mode, Keyless: keyless, cfg: cfg, book: book, target: &recorder{Sink: s, book: book}}
	for _, r := range cfg.Translation.Records {
		if book.copies[r.Ref()] > 0 {
			p.Duplicates = append(p.Duplicates, r.Ref())
		}
	}
	p.Job = p.build()
	return p, nil
}

// build declares one step per table of workspace.TableOrder.
func (p *Prepared) build() *migrations.Job {
	res := p.cfg.Translation
	rank := map[string]int{}
	for i, t := range workspace.TableOrder {
		rank[t] = i
	}
	byTable := map[string][]*workspace.Record{}
	deps := map[string]map[string]bool{}
	dependOn := func(table, on string) {
		if table == on {
			return
		}
		if deps[table] == nil {
			deps[table] = map[string]bool{}
		}
		deps[table][on] = true
	}
	for _, r := range res.Records {
		byTable[r.Table] = append(byTable[r.Table], r)
		for _, v := range r.Fields {
			if ref, ok := v.(workspace.Ref); ok {
				dependOn(r.Table, ref.Table)
			}
		}
	}
	m := &mapper{book: p.book, links: map[workspace.Ref][]workspace.Association{}, warnings: map[workspace.Ref][]string{}}
	for _, a := range res.Associations {
		holder, other := a.From, a.To
		if rank[a.To.Table] > rank[a.From.Table] {
			holder, other = a.To, a.From
		}
		m.links[holder] = append(m.links[holder], a)
		dependOn(holder.Table, other.Table)
	}
	for _, d := range res.Diagnostics {
		if d.Severity == workspace.Warning && d.Target != nil {
			m.warnings[*d.Target] = append(m.warnings[*d.Target], fmt.Sprintf("USD %s %q: %s", strings.ToLower(d.Source.Kind.Label()), d.Source.Name, d.Message))
		}
	}
	job := &migrations.Job{Name: JobName(p.cfg.Dataverse.ServiceRoot())}
	for _, table := range workspace.TableOrder {
		recs := slices.Clone(byTable[table])
		slices.SortFunc(recs, func(a, b *workspace.Record) int { return strings.Compare(a.UniqueName, b.UniqueName) })
		job.Steps = append(job.Steps, &migrations.Step{Name: table, DependsOn: slices.Sorted(maps.Keys(deps[table])),
			Source: tableSource(recs), Map: m.record, Target: p.target})
	}
	return job
}

// tableSource serves one table of the translation in unique-name order;
// the cursor is the last unique name read.
type tableSource []*workspace.Record

func (s tableSource) after(cursor string) []*workspace.Record {
	i, _ := slices.BinarySearchFunc(s, cursor, func(r *workspace.Record, c string) int { return strings.Compare(r.UniqueName, c) })
	for i < len(s) && s[i].UniqueName <= cursor {
		i++
	}
	return s[i:]
}

// Records implements migrations.Source.
func (s tableSource) Records(_ context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
	return func(yield func(migrations.SourceRecord, error) bool) {
		for _, r := range s.after(cursor) {
			rec := migrations.SourceRecord{ID: r.UniqueName, Cursor: r.UniqueName, Value: r,
				Data: map[string]any{"table": r.Table, "uniqueName": r.UniqueName, "sources": r.Sources}}
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// Count implements migrations.CountingSource, for progress bars.
func (s tableSource) Count(_ context.Context, cursor string) (int64, error) {
	return int64(len(s.after(cursor))), nil
}

// mapper turns a translated record into the record the sink writes. It is
// pure: the address book was read before the job started.
type mapper struct {
	book *addressBook
	// links holds each association under the record written last.
	links map[workspace.Ref][]workspace.Association
	// warnings are the translation's warnings about each record.
	warnings map[workspace.Ref][]string
}

func (m *mapper) record(src migrations.SourceRecord, ids migrations.IDs) migrations.MapResult {
	r, ok := src.Value.(*workspace.Record)
	if !ok {
		return migrations.Reject(fmt.Errorf("source record %s is not a translated record", src.ID))
	}
	// Dataverse would refuse a bind to a record that is not there, with a
	// less helpful message.
	for _, col := range slices.Sorted(maps.Keys(r.Fields)) {
		if ref, ok := r.Fields[col].(workspace.Ref); ok {
			if _, written := ids.Lookup(ref.Table, ref.UniqueName); !written {
				return migrations.Reject(fmt.Errorf("not written: %s points at %s %s, which was rejected", col, ref.Table, ref.UniqueName))
			}
		}
	}
	body, err := r.BodyWith(m.book.reg, m.book.bind)
	if err != nil {
		return migrations.Reject(err)
	}
	for col, v := range body {
		// Dataverse keeps an empty text as null; writing null says the
		// same and lets a re-run find the column unchanged.
		if v == "" {
			body[col] = nil
		}
	}
	tr := migrations.TargetRecord{Table: r.Table, Key: m.book.key(r.Ref()), Fields: body}
	if r.State != nil {
		tr.State = &migrations.State{Code: r.State.Code, Reason: r.State.Reason}
	}
	warnings := slices.Clone(m.warnings[r.Ref()])
	for _, a := range m.links[r.Ref()] {
		other := a.To
		if other == r.Ref() {
			other = a.From
		}
		if _, written := ids.Lookup(other.Table, other.UniqueName); !written {
			warnings = append(warnings, fmt.Sprintf("link %s to %s %s not made: that record was not written", a.Relationship, other.Table, other.UniqueName))
			continue
		}
		tr.Links = append(tr.Links, migrations.Link{Relationship: a.Relationship, Table: other.Table, Key: migrations.Key{ID: m.book.id(other).String()}})
	}
	return migrations.Write(tr).WithWarnings(warnings...)
}
