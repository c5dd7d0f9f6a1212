package usdjob

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/migrations"
)

// Addressing is how a run names the records it writes.
type Addressing string

const (
	// AddressAuto asks the environment's metadata: by key when every
	// table written has an alternate key on its unique-name column, by ID
	// otherwise.
	AddressAuto Addressing = "auto"
	// AddressByKey upserts <set>(msdyn_uniquename='…'); the environment
	// needs those alternate keys.
	AddressByKey Addressing = "key"
	// AddressByID writes <set>(<id>): existing records by the ID found
	// for their unique name, new ones by RecordID, so that a create whose
	// answer was lost is not duplicated on retry or re-run. It works
	// without any alternate key: the Copilot Service workspace tables do
	// not ship one on msdyn_uniquename, and the workflow table cannot be
	// given one.
	AddressByID Addressing = "id"
)

// idNamespace seeds the IDs of new records (a random, fixed UUID).
var idNamespace = uuid.MustParse("3c1f7a52-5a0e-4f43-9d6b-2f8e0f6f7c10")

// RecordID is the ID a new record is created with: a name-based UUID
// (RFC 9562 version 5) of its table and unique name, the same in every
// environment and on every run.
func RecordID(r workspace.Ref) uuid.UUID {
	return uuid.NewSHA1(idNamespace, []byte(r.Table+"/"+r.UniqueName))
}

// namesPerQuery bounds the unique names of one In filter, keeping the URL
// well under Dataverse's 32 KB limit (max-url-length in
// compose-http-requests-handle-errors.md) whatever the name lengths.
const namesPerQuery = 50

// resolveAddressing returns mode unless it is auto (or empty); then each
// table is looked up in the environment's metadata (EntityDefinitions
// with Keys) and the tables lacking the unique-name key are returned too,
// for a message.
func resolveAddressing(ctx context.Context, c *dataverse.Client, mode Addressing, tables []string, conc int) (Addressing, []string, error) {
	switch mode {
	case AddressByKey, AddressByID:
		return mode, nil, nil
	case AddressAuto, "":
	default:
		return "", nil, fmt.Errorf("usd migrate: unknown addressing %q (use auto, key or id)", mode)
	}
	keyed := make([]bool, len(tables))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i, name := range tables {
		g.Go(func() error {
			t, err := c.DiscoverTable(gctx, name)
			if err != nil {
				return fmt.Errorf("usd migrate: reading the definition of %s: %w", name, err)
			}
			keyed[i] = hasUniqueNameKey(t)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", nil, err
	}
	var missing []string
	for i, name := range tables {
		if !keyed[i] {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		return AddressByID, missing, nil
	}
	return AddressByKey, nil, nil
}

func hasUniqueNameKey(t *schema.Table) bool {
	col := workspace.KeyColumn(t.LogicalName)
	for _, k := range t.AlternateKeys {
		if len(k.Columns) == 1 && k.Columns[0] == col {
			return true
		}
	}
	return false
}

// addressBook names every translated record for one run: the ID each one
// has (found in the environment, or RecordID for a record not there yet),
// the key a write addresses it by, and the bind that points at it. It is
// read before the job starts, so the mapping stays pure and a dry run
// binds exactly as a run does.
type addressBook struct {
	mode Addressing
	reg  *schema.Registry
	// found maps the records the environment holds to their IDs (the
	// oldest, when a unique name is held more than once).
	found map[workspace.Ref]uuid.UUID
	// copies counts the records found per unique name beyond the first:
	// without an alternate key nothing stops a person creating another.
	copies map[workspace.Ref]int
	// byID maps the lower-case ID of every translated record back to it.
	byID map[string]workspace.Ref
}

// id is the record's ID: as found, else the one it is created with.
func (a *addressBook) id(r workspace.Ref) uuid.UUID {
	if id, ok := a.found[r]; ok {
		return id
	}
	return RecordID(r)
}

// key addresses a record for a write. By key, a record not there yet also
// carries the ID it is created with, so that binds by ID find it; one
// that exists is addressed by its key alone and keeps its ID.
func (a *addressBook) key(r workspace.Ref) migrations.Key {
	if a.mode == AddressByID {
		return migrations.Key{ID: a.id(r).String()}
	}
	k := migrations.Key{Alternate: map[string]any{workspace.KeyColumn(r.Table): r.UniqueName}}
	if _, ok := a.found[r]; !ok {
		k.ID = RecordID(r).String()
	}
	return k
}

// bind points at a translated record by its ID, which every record has
// before any write (see id): Dataverse resolves it without an alternate
// key, and the sink compares it with the lookup's value, so a re-run sees
// the lookup unchanged.
func (a *addressBook) bind(r workspace.Ref) (string, error) {
	t, ok := a.reg.Table(r.Table)
	if !ok {
		return "", fmt.Errorf("table %s is not in the schema registry", r.Table)
	}
	return "/" + t.EntitySetName + "(" + a.id(r).String() + ")", nil
}

// holds reports whether the book found, by unique name, a record of table
// with this ID: the environment held it when the book was read.
func (a *addressBook) holds(table, id string) bool {
	r, ok := a.byID[strings.ToLower(id)]
	if !ok || r.Table != table {
		return false
	}
	found, ok := a.found[r]
	return ok && strings.EqualFold(found.String(), id)
}

// ref names the translated record a key addresses.
func (a *addressBook) ref(table string, k migrations.Key) (workspace.Ref, bool) {
	if name, ok := k.Alternate[workspace.KeyColumn(table)].(string); ok {
		return workspace.Ref{Table: table, UniqueName: name}, true
	}
	r, ok := a.byID[strings.ToLower(k.ID)]
	return r, ok && r.Table == table
}

// readAddressBook finds, by unique name, which translated records the
// environment holds and their IDs: one In query per namesPerQuery names,
// several side by side, oldest record first so that of duplicates the one
// that was there first is kept in step.
func readAddressBook(ctx context.Context, c *dataverse.Client, mode Addressing, res *workspace.Result, conc int) (*addressBook, error) {
	a := &addressBook{mode: mode, reg: c.Schema(), found: map[workspace.Ref]uuid.UUID{}, copies: map[workspace.Ref]int{},
		byID: map[string]workspace.Ref{}}
	byTable := map[string][]string{}
	for _, r := range res.Records {
		byTable[r.Table] = append(byTable[r.Table], r.UniqueName)
	}
	type chunk struct {
		t     *schema.Table
		names []string
	}
	var chunks []chunk
	for _, table := range slices.Sorted(maps.Keys(byTable)) {
		t, err := c.Table(ctx, table)
		if err != nil {
			return nil, fmt.Errorf("usd migrate: the environment has no %s table (is the Copilot Service workspace installed?): %w", table, err)
		}
		for names := range slices.Chunk(byTable[table], namesPerQuery) {
			chunks = append(chunks, chunk{t, names})
		}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for _, ch := range chunks {
		g.Go(func() error {
			col := workspace.KeyColumn(ch.t.LogicalName)
			values := make([]any, len(ch.names))
			for i, n := range ch.names {
				values[i] = n
			}
			q := dataverse.Query{Select: []string{ch.t.PrimaryID, col}, Filter: dataverse.In(col, values...),
				OrderBy: []dataverse.Order{{Column: "createdon"}}}
			var got []dataverse.Record
			for rec, err := range c.Records(gctx, ch.t.LogicalName, q) {
				if err != nil {
					return fmt.Errorf("usd migrate: reading %s: %w", ch.t.LogicalName, err)
				}
				got = append(got, rec)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, rec := range got {
				ref := workspace.Ref{Table: ch.t.LogicalName, UniqueName: rec.String(col)}
				if _, dup := a.found[ref]; dup {
					a.copies[ref]++
					continue
				}
				id, err := uuid.Parse(rec.String(ch.t.PrimaryID))
				if err != nil {
					return fmt.Errorf("usd migrate: %s %s has no readable ID", ref.Table, ref.UniqueName)
				}
				a.found[ref] = id
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, r := range res.Records {
		a.byID[strings.ToLower(a.id(r.Ref()).String())] = r.Ref()
	}
	return a, nil
}
