package sink

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
)

const (
	annLookupTable = "@Microsoft.Dynamics.CRM.lookuplogicalname"
	annNavigation  = "@Microsoft.Dynamics.CRM.associatednavigationproperty"
)

// Preparer turns a record as read (by `dvsync pull`, or written by hand)
// into the key and body of a write, for WriteItems: the one place that
// knows which parts of a read record Dataverse takes back.
type Preparer struct {
	client *dataverse.Client
	t      *schema.Table
	mode   dataverse.WriteMode
	key    []string
	// sets caches entity set names of lookup targets.
	sets map[string]string
}

// NewPreparer prepares records of table t for writes in mode, addressed
// by the key columns (an alternate key's, or t's primary key; none: the
// primary key when the record has one).
func NewPreparer(c *dataverse.Client, t *schema.Table, mode dataverse.WriteMode, key []string) *Preparer {
	return &Preparer{client: c, t: t, mode: mode, key: key, sets: map[string]string{}}
}

func (p *Preparer) entitySet(ctx context.Context, logical string) (string, error) {
	if s, ok := p.sets[logical]; ok {
		return s, nil
	}
	t, err := p.client.Table(ctx, logical)
	if err != nil {
		return "", err
	}
	p.sets[logical] = t.EntitySetName
	return t.EntitySetName, nil
}

// Prepare returns the item to write, or an error saying why the record
// cannot be written as it is.
//
//   - OData annotations are dropped, except "x@odata.bind".
//   - Read-side lookups "_x_value" become "nav@odata.bind": "/set(<guid>)",
//     using the lookuplogicalname / associatednavigationproperty annotations
//     a pull with --annotations records, or the table definition when the
//     lookup has a single target. Binds written by hand, including by
//     alternate key ("/accounts(accountnumber='A-1')"), pass through.
//   - Read-only columns (createdon, versionnumber, …) are dropped.
//   - Unknown columns are refused when the table definition is known.
func (p *Preparer) Prepare(ctx context.Context, in dataverse.Record) (dataverse.Item, error) {
	out := dataverse.Record{}
	for k, v := range in {
		switch {
		case strings.HasSuffix(k, "@odata.bind"):
			out[k] = v
		case strings.Contains(k, "@"):
			// annotation: dropped
		case strings.HasPrefix(k, "_") && strings.HasSuffix(k, "_value"):
			if v == nil {
				// Clearing a lookup needs a DELETE of its $ref; a null read
				// value is left alone rather than guessed at.
				continue
			}
			nav, bind, err := p.bindLookup(ctx, in, k, v)
			if err != nil {
				return dataverse.Item{}, err
			}
			out[nav+"@odata.bind"] = bind
		default:
			if len(p.t.Columns) > 0 {
				c, ok := p.t.Column(k)
				if !ok {
					return dataverse.Item{}, fmt.Errorf("table %s has no column %q", p.t.LogicalName, k)
				}
				if c.ReadOnly {
					continue
				}
				if c.Type.IsLookup() {
					return dataverse.Item{}, fmt.Errorf("lookup %s must be written as %s@odata.bind (or read as %s)", k, c.NavigationProperty(firstTarget(c)), c.ValueProperty())
				}
			}
			out[k] = v
		}
	}
	key, err := p.keyOf(in)
	if err != nil {
		return dataverse.Item{}, err
	}
	if len(key.Alternate) > 0 {
		// Keyed by natural key: the source environment's GUID means nothing
		// in the target and would clash with an existing record's ID.
		delete(out, p.t.PrimaryID)
	}
	return dataverse.Item{Key: key, Record: out}, nil
}

func firstTarget(c *schema.Column) string {
	if len(c.Targets) > 0 {
		return c.Targets[0]
	}
	return "target"
}

func (p *Preparer) bindLookup(ctx context.Context, in dataverse.Record, prop string, v any) (nav, bind string, err error) {
	id, ok := v.(string)
	if _, perr := uuid.Parse(id); !ok || perr != nil {
		return "", "", fmt.Errorf("%s: %v is not a GUID", prop, v)
	}
	target, _ := in[prop+annLookupTable].(string)
	nav, _ = in[prop+annNavigation].(string)
	col, known := p.t.LookupByValueProperty(prop)
	if target == "" && known && len(col.Targets) == 1 {
		target = col.Targets[0]
	}
	if target == "" {
		return "", "", fmt.Errorf("%s: cannot tell which table the lookup points to; pull with --annotations, or write %s@odata.bind", prop, strings.TrimSuffix(strings.TrimPrefix(prop, "_"), "_value")+"_<table>")
	}
	if nav == "" {
		if !known {
			return "", "", fmt.Errorf("%s: unknown lookup on %s; pull with --annotations or write the @odata.bind yourself", prop, p.t.LogicalName)
		}
		nav = col.NavigationProperty(target)
	}
	set, err := p.entitySet(ctx, target)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", prop, err)
	}
	return nav, "/" + set + "(" + id + ")", nil
}

// MissingKeyError is a record without the columns that address it. A
// file whose first record has none was meant for another --key or --mode,
// so a caller can stop before writing rather than reject every record.
type MissingKeyError struct {
	Table   string
	Columns []string // the key columns looked for
	// Default is true when no key columns were asked for and the record
	// has no primary key either.
	Default bool
	// Line is the record's place in its file, when Push found it.
	Line int64
}

func (e *MissingKeyError) Error() string {
	if e.Default {
		return fmt.Sprintf("no key: the record has no %s; pass --key with an alternate key's columns", strings.Join(e.Columns, ","))
	}
	return fmt.Sprintf("missing key column %s", strings.Join(e.Columns, ","))
}

// keyOf addresses the record: by the --key columns (an alternate key, or
// the primary key column alone), else by the primary key when present.
func (p *Preparer) keyOf(in dataverse.Record) (dataverse.Key, error) {
	if len(p.key) == 1 && p.key[0] == p.t.PrimaryID || len(p.key) == 0 {
		s, _ := in[p.t.PrimaryID].(string)
		if s == "" {
			if p.mode == dataverse.ModeCreate {
				return dataverse.Key{}, nil
			}
			return dataverse.Key{}, &MissingKeyError{Table: p.t.LogicalName, Columns: []string{p.t.PrimaryID}, Default: len(p.key) == 0}
		}
		id, err := uuid.Parse(s)
		if err != nil {
			return dataverse.Key{}, fmt.Errorf("%s: %q is not a GUID", p.t.PrimaryID, s)
		}
		return dataverse.ByID(id), nil
	}
	k := dataverse.Key{Alternate: map[string]any{}}
	for _, col := range p.key {
		v, ok := in[col]
		if !ok || v == nil || v == "" {
			return dataverse.Key{}, &MissingKeyError{Table: p.t.LogicalName, Columns: []string{col}}
		}
		k.Alternate[col] = v
	}
	return k, nil
}

// UnknownColumns returns the names among a file's columns that Prepare
// would refuse in every record as "no column": not a column of the table,
// a lookup's _x_value or an annotation. It is empty when the table's
// definition is not known.
func (p *Preparer) UnknownColumns(names []string) []string {
	if len(p.t.Columns) == 0 {
		return nil
	}
	var out []string
	for _, k := range names {
		if strings.Contains(k, "@") || strings.HasPrefix(k, "_") && strings.HasSuffix(k, "_value") {
			continue
		}
		if _, ok := p.t.Column(k); !ok {
			out = append(out, k)
		}
	}
	return out
}
