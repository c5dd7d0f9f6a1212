// Package helpdesk reads Odoo helpdesk data into typed records, for both
// the Enterprise "helpdesk" app and the OCA "helpdesk_mgmt" module, on Odoo
// 16 to 19 (research/odoo.md §2 and §3).
//
// The two flavours store the same concepts under different models and
// field names. Readers map them onto one set of types and keep the
// differences visible: Flavour on every record, zero values where a concept
// does not exist (ticket types on 18+, categories and channels on
// Enterprise), ErrNotInstalled for whole models that are absent, and the
// record as read in Raw.
package helpdesk

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/dvsync/dvsync/odoo"
)

// Flavour is the helpdesk implementation installed.
type Flavour string

// Flavours.
const (
	Enterprise Flavour = "enterprise"
	OCA        Flavour = "oca"
)

// ErrNoHelpdesk means neither helpdesk app is installed.
var ErrNoHelpdesk = errors.New("helpdesk: neither Enterprise helpdesk (helpdesk.team) nor OCA helpdesk_mgmt (helpdesk.ticket.team) is installed")

// ErrNotInstalled means the concept has no model in this flavour/version.
var ErrNotInstalled = errors.New("helpdesk: not installed")

// NotInstalledError names what is missing; errors.Is(err, ErrNotInstalled).
type NotInstalledError struct {
	Concept string
	Flavour Flavour
	Version int
}

func (e *NotInstalledError) Error() string {
	return fmt.Sprintf("helpdesk: %s does not exist on Odoo %d %s", e.Concept, e.Version, e.Flavour)
}

func (e *NotInstalledError) Is(target error) bool { return target == ErrNotInstalled }

// Models are the model names of each concept in the detected flavour; ""
// when the concept has no model there.
type Models struct {
	Ticket, Team, Stage, Tag string
	SLA, SLAStatus           string // Enterprise only
	TicketType               string // Enterprise 16/17 only
	Category, Channel        string // OCA only
	Article                  string // Enterprise Knowledge app
	Partner, User, Message   string
	// Working-hour calendars (SLA deadlines are counted in them).
	Calendar, CalendarAttendance string
}

// All lists the models that exist, in a stable order.
func (m Models) All() []string {
	var out []string
	for _, name := range []string{m.Calendar, m.CalendarAttendance, m.Team, m.Stage, m.Tag, m.TicketType, m.Category, m.Channel, m.SLA, m.Ticket, m.SLAStatus, m.Partner, m.User, m.Message, m.Article} {
		if name != "" {
			out = append(out, name)
		}
	}
	return out
}

// Reader reads one database's helpdesk.
type Reader struct {
	c       *odoo.Client
	Flavour Flavour
	Version int
	Models  Models

	mu     sync.Mutex
	fields map[string]map[string]bool // fields_get cache
}

// Detect finds which helpdesk is installed by asking ir.model which models
// exist (helpdesk.team → Enterprise, helpdesk.ticket.team → OCA).
func Detect(ctx context.Context, c *odoo.Client) (*Reader, error) {
	candidates := []string{"helpdesk.team", "helpdesk.ticket.team", "helpdesk.ticket.type", "helpdesk.sla",
		"helpdesk.sla.status", "helpdesk.ticket.category", "helpdesk.ticket.channel", "knowledge.article",
		"resource.calendar", "resource.calendar.attendance"}
	have, err := c.InstalledModels(ctx, candidates...)
	if err != nil {
		return nil, fmt.Errorf("helpdesk: detecting the flavour: %w", err)
	}
	r := &Reader{c: c, Version: c.Version().Major, fields: map[string]map[string]bool{}}
	pick := func(model string) string {
		if have[model] {
			return model
		}
		return ""
	}
	common := Models{Ticket: "helpdesk.ticket", Partner: "res.partner", User: "res.users", Message: "mail.message",
		Article: pick("knowledge.article"), Calendar: pick("resource.calendar"), CalendarAttendance: pick("resource.calendar.attendance")}
	switch {
	case have["helpdesk.team"]:
		r.Flavour = Enterprise
		r.Models = common
		r.Models.Team, r.Models.Stage, r.Models.Tag = "helpdesk.team", "helpdesk.stage", "helpdesk.tag"
		r.Models.SLA, r.Models.SLAStatus, r.Models.TicketType = pick("helpdesk.sla"), pick("helpdesk.sla.status"), pick("helpdesk.ticket.type")
	case have["helpdesk.ticket.team"]:
		r.Flavour = OCA
		r.Models = common
		r.Models.Team, r.Models.Stage, r.Models.Tag = "helpdesk.ticket.team", "helpdesk.ticket.stage", "helpdesk.ticket.tag"
		r.Models.Category, r.Models.Channel = pick("helpdesk.ticket.category"), pick("helpdesk.ticket.channel")
	default:
		return nil, ErrNoHelpdesk
	}
	return r, nil
}

// Client is the underlying Odoo client.
func (r *Reader) Client() *odoo.Client { return r.c }

func (r *Reader) absent(concept string) error {
	return &NotInstalledError{Concept: concept, Flavour: r.Flavour, Version: r.Version}
}

// existing narrows want to the fields the model has on this server, so one
// list serves 16 to 19 (fields_get is asked once per model).
func (r *Reader) existing(ctx context.Context, model string, want []string) ([]string, error) {
	r.mu.Lock()
	have, ok := r.fields[model]
	r.mu.Unlock()
	if !ok {
		fields, err := r.c.FieldsGet(ctx, model)
		if err != nil {
			return nil, err
		}
		have = map[string]bool{}
		for name := range fields {
			have[name] = true
		}
		r.mu.Lock()
		r.fields[model] = have
		r.mu.Unlock()
	}
	out := make([]string, 0, len(want))
	for _, f := range want {
		if have[f] && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Fields lists the fields a reader asks for on model: the union of what
// both flavours and all versions use, narrowed to this server.
func (r *Reader) Fields(ctx context.Context, model string) ([]string, error) {
	return r.existing(ctx, model, wantedFields[model])
}

// Query narrows a read.
type Query struct {
	Domain odoo.Domain
	// Since, when set, reads only records written at or after it, in
	// (write_date, id) order (see odoo.Client.Changes).
	Since *odoo.Watermark
	// Archived includes inactive records (active_test=false).
	Archived bool
	Context  odoo.Context
	PageSize int
}

func (q Query) options(fields []string) odoo.StreamOptions {
	cx := q.Context
	if q.Archived {
		cx = cx.WithArchived()
	}
	return odoo.StreamOptions{Domain: q.Domain, Fields: fields, Context: cx, PageSize: q.PageSize}
}

// stream is the generic typed reader.
func stream[T any](ctx context.Context, r *Reader, model, concept string, q Query, decode func(*decoder) T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if model == "" {
			yield(zero, r.absent(concept))
			return
		}
		fields, err := r.Fields(ctx, model)
		if err != nil {
			yield(zero, err)
			return
		}
		seq := r.c.Stream(ctx, model, q.options(fields))
		if q.Since != nil {
			seq = r.c.Changes(ctx, model, *q.Since, q.options(fields))
		}
		for rec, err := range seq {
			if err != nil {
				yield(zero, err)
				return
			}
			d := &decoder{r: rec}
			v := decode(d)
			if d.err != nil {
				yield(zero, fmt.Errorf("helpdesk: %s %d: %w", model, rec.ID(), d.err))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}

// collect drains a typed stream into a slice (for the small models).
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
