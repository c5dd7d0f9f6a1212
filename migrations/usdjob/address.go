package usdjob

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/mapping/workspace"
)

// Addressing is how a run names the records it writes.
type Addressing string

const (
	// AddressAuto asks the environment's metadata: by key when every
	// table written has an alternate key on its unique-name column, by ID
	// otherwise.
	AddressAuto Addressing = "auto"
	// AddressByKey upserts <set>(msdyn_uniquename='…') and binds lookups
	// and links the same way; the environment needs those alternate keys.
	AddressByKey Addressing = "key"
	// AddressByID writes <set>(<id>): existing records by the ID the plan
	// read, new ones by an ID derived from table and unique name, so that
	// a create whose answer was lost is not duplicated on retry or re-run.
	// It works without any alternate key: the Copilot Service workspace
	// tables do not ship one on msdyn_uniquename, and the workflow table
	// cannot be given one.
	AddressByID Addressing = "id"
)

// idNamespace seeds the IDs of new records (a random, fixed UUID).
var idNamespace = uuid.MustParse("3c1f7a52-5a0e-4f43-9d6b-2f8e0f6f7c10")

// RecordID is the ID AddressByID gives a new record: a name-based UUID
// (RFC 9562 version 5) of its table and unique name, the same in every
// environment and on every run.
func RecordID(r workspace.Ref) uuid.UUID {
	return uuid.NewSHA1(idNamespace, []byte(r.Table+"/"+r.UniqueName))
}

// ResolveAddressing returns how records will be addressed: Options.Addressing
// unless it is auto (or empty), in which case each table written is looked
// up in the environment's metadata (EntityDefinitions with Keys). The
// tables lacking the unique-name key are returned too, for a message.
func (m *Migrator) ResolveAddressing(ctx context.Context) (Addressing, []string, error) {
	switch m.Addressing {
	case AddressByKey, AddressByID:
		return m.Addressing, nil, nil
	case AddressAuto, "":
	default:
		return "", nil, fmt.Errorf("migrate: unknown addressing %q (use auto, key or id)", m.Addressing)
	}
	var tables []string
	for _, r := range m.Result.Records {
		if !slices.Contains(tables, r.Table) {
			tables = append(tables, r.Table)
		}
	}
	// One definition read is a few requests; read the tables side by side.
	keyed := make([]bool, len(tables))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.readers())
	for i, name := range tables {
		g.Go(func() error {
			t, err := m.Client.DiscoverTable(gctx, name)
			if err != nil {
				return fmt.Errorf("migrate: reading the definition of %s: %w", name, err)
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

// addresser turns references into record keys and bodies for one run.
type addresser struct {
	mode Addressing
	reg  *schema.Registry
	ids  map[workspace.Ref]uuid.UUID // by ID: every translated record
}

func newAddresser(mode Addressing, reg *schema.Registry, plan *Plan) (*addresser, error) {
	a := &addresser{mode: mode, reg: reg, ids: map[workspace.Ref]uuid.UUID{}}
	if mode != AddressByID {
		return a, nil
	}
	for _, rp := range plan.Records {
		ref := workspace.Ref{Table: rp.Table, UniqueName: rp.UniqueName}
		if rp.ID == "" {
			a.ids[ref] = RecordID(ref)
			continue
		}
		id, err := uuid.Parse(rp.ID)
		if err != nil {
			return nil, fmt.Errorf("migrate: %s %s has ID %q", rp.Table, rp.UniqueName, rp.ID)
		}
		a.ids[ref] = id
	}
	return a, nil
}

// key addresses a translated record.
func (a *addresser) key(r workspace.Ref) (dataverse.Key, error) {
	if a.mode != AddressByID {
		return key(r), nil
	}
	id, ok := a.ids[r]
	if !ok {
		return dataverse.Key{}, fmt.Errorf("%s %s is not part of the translation", r.Table, r.UniqueName)
	}
	return dataverse.ByID(id), nil
}

// body is the Web API body of a record. By key it is Record.Body; by ID
// the lookups bind /<set>(<id>) and the unique name travels in the body,
// since the URL no longer carries it.
func (a *addresser) body(r *workspace.Record) (map[string]any, error) {
	body, err := r.Body(a.reg)
	if err != nil || a.mode != AddressByID {
		return body, err
	}
	tbl, _ := a.reg.Table(r.Table) // Body checked it
	for col, v := range r.Fields {
		ref, ok := v.(workspace.Ref)
		if !ok {
			continue
		}
		c, _ := tbl.Column(col)
		target, ok := a.reg.Table(ref.Table)
		if !ok {
			return nil, fmt.Errorf("workspace: table %s is not in the schema registry", ref.Table)
		}
		k, err := a.key(ref)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", col, err)
		}
		body[c.NavigationProperty(ref.Table)+"@odata.bind"] = "/" + target.EntitySetName + "(" + k.ID.String() + ")"
	}
	body[workspace.KeyColumn(r.Table)] = r.UniqueName
	return body, nil
}
