// Package odoodv translates Odoo helpdesk records (package odoo/helpdesk,
// Enterprise or OCA) into Dataverse Customer Service records: partners into
// accounts and contacts, teams into queues and SLAs, SLA policies into SLA
// items, tickets into cases with a queue item, SLA statuses into SLA KPI
// instances, chatter messages into notes and knowledge articles into
// knowledge articles.
//
// The translation is pure: a Mapper holds the mapping file (Map) and the
// small reference tables read up front (stages, tags, teams, users, the
// article tree); each function takes one source record and returns target
// records or a skip or reject with its reason. Whether a record another one
// refers to was migrated is asked through Migrated, which the caller answers
// from its ID map, so a ticket whose customer was rejected is itself
// rejected with a reason rather than failing at the target.
//
// Every target record gets a deterministic ID, UUID v5 of (database, Odoo
// model, Odoo id), so writing it again updates it; lookups bind to those
// IDs. Users are the exception: Dataverse users are matched by email, never
// created.
package odoodv

import (
	"crypto/sha1"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Step names: each concept is one migration step, named so its IDs can be
// asked through Migrated.
const (
	StepAccounts    = "accounts"
	StepContacts    = "contacts"
	StepQueues      = "queues"
	StepUsers       = "users"
	StepSubjects    = "subjects" // the root subject (id 0), then one per tag
	StepSLAs        = "slas"
	StepSLAItems    = "sla-items"
	StepCases       = "cases"
	StepSLAOutcomes = "sla-outcomes"
	StepNotes       = "notes"
	StepArticles    = "articles"
)

// Record is one target record: its columns, and what the writer must do
// besides writing them. Instructions are typed fields (MatchOnly, State),
// never values among the columns, so nothing meant for the writer can
// reach Dataverse as data.
type Record struct {
	Table string
	// ID is the deterministic primary key; uuid.Nil for match-only records
	// addressed by Key.
	ID uuid.UUID
	// Key is the alternate key (systemuser internalemailaddress).
	Key map[string]any
	// Fields are Web API body values, with @odata.bind lookups. They never
	// hold the record's state: see State.
	Fields map[string]any
	// MatchOnly marks a record to be looked up by its Key, never written:
	// Dataverse users exist already (they come from Entra ID).
	MatchOnly bool
	// State, when set, is the state the record is moved to after it is
	// written. Dataverse treats a state as a transition, not a column: the
	// writer sends it separately, and a case is resolved only through the
	// CloseIncident action.
	State *State
}

// State is a record's statecode and statuscode.
type State struct {
	Code, Reason int
	// Close describes the Case Resolution of an incident resolved
	// (statecode 1), which the writer records with CloseIncident.
	Close *Resolution
}

// Resolution is the Case Resolution of a resolved case.
type Resolution struct {
	Subject string
	// ResolvedOn is when, as a Dataverse date-time string; empty means
	// when the writer closes the case.
	ResolvedOn string
}

// Result is the outcome of mapping one source record: records, or a skip
// (deliberately not migrated) or a reject (cannot be migrated) with why.
// Warnings note what was mapped with a fallback.
type Result struct {
	Records  []Record
	Skip     string
	Err      error
	Warnings []string
}

func write(recs ...Record) Result { return Result{Records: recs} }
func skip(reason string) Result   { return Result{Skip: reason} }
func reject(format string, a ...any) Result {
	return Result{Err: &RejectError{Reason: fmt.Sprintf(format, a...)}}
}

// RejectError is why a source record cannot be migrated.
type RejectError struct{ Reason string }

func (e *RejectError) Error() string { return e.Reason }

// Migrated tells whether an earlier step wrote the Odoo record id.
type Migrated interface {
	Migrated(step string, odooID int) bool
}

// MigratedFunc adapts a function to Migrated.
type MigratedFunc func(step string, odooID int) bool

// Migrated calls f.
func (f MigratedFunc) Migrated(step string, odooID int) bool { return f(step, odooID) }

// idNamespace is the UUID v5 namespace of every ID this package derives (a
// random v4, fixed forever: changing it would change every target ID).
var idNamespace = uuid.MustParse("6b0f3c52-4d0e-4f7e-9a3b-8e1d2c7a5f10")

// ID is the deterministic Dataverse ID of the record migrated from the Odoo
// record (model, id) of database. Derived records use a model suffix
// ("helpdesk.ticket#queueitem").
func ID(salt, database, model string, id int) uuid.UUID {
	return uuid.NewHash(sha1.New(), idNamespace, []byte(salt+"\x00"+database+"\x00"+model+"\x00"+strconv.Itoa(id)), 5)
}

// Odoo models and derived identities.
const (
	modelPartner     = "res.partner"
	modelTeam        = "helpdesk.team"
	modelTeamSLA     = "helpdesk.team#sla"
	modelTag         = "helpdesk.tag"
	modelTagRoot     = "helpdesk.tag#root"
	modelSLA         = "helpdesk.sla"
	modelSLAStatus   = "helpdesk.sla.status"
	modelTicket      = "helpdesk.ticket"
	modelTicketQueue = "helpdesk.ticket#queueitem"
	modelMessage     = "mail.message"
	modelArticle     = "knowledge.article"
)

// bind is an @odata.bind reference by primary key.
func bind(entitySet string, id uuid.UUID) string {
	return "/" + entitySet + "(" + id.String() + ")"
}

// bindKey is an @odata.bind reference by a single-column alternate key; the
// value is an OData string literal (quotes doubled).
func bindKey(entitySet, column, value string) string {
	return "/" + entitySet + "(" + column + "='" + strings.ReplaceAll(value, "'", "''") + "')"
}

// expand fills {name}-style placeholders.
func expand(format string, vars map[string]string) string {
	pairs := make([]string, 0, 2*len(vars))
	for k, v := range vars {
		pairs = append(pairs, "{"+k+"}", v)
	}
	return strings.NewReplacer(pairs...).Replace(format)
}
