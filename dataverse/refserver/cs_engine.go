package refserver

// The Customer Service engine: entitlements, SLAs and knowledge articles
// behave as Dynamics 365 Customer Service makes them behave, inside the
// transaction of the write that triggers them (cs_entitlement.go,
// cs_sla.go, cs_knowledge.go). Pure rules live in csrules; this file holds
// the clock, the sweep that moves time-driven states, the unbound actions
// and shared helpers.

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// Clock is a settable clock for Options.Now. A frozen clock stands still
// until Set or Advance moves it (tests); a running one advances with the
// wall clock from the time it was given (dvsync serve --clock).
type Clock struct {
	mu      sync.Mutex
	at      time.Time
	since   time.Time // wall time when at was set; zero for a frozen clock
	running bool
}

// NewClock returns a clock standing at t. With running, it moves forward
// with the wall clock from t.
func NewClock(t time.Time, running bool) *Clock {
	c := &Clock{at: t.UTC(), running: running}
	if running {
		c.since = time.Now()
	}
	return c
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return c.at.Add(time.Since(c.since))
	}
	return c.at
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = t.UTC()
	if c.running {
		c.since = time.Now()
	}
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

func (s *Store) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// codeBusinessRule is the error code of refusals by Customer Service
// logic. Decision: Microsoft does not document the codes its entitlement
// and SLA plug-ins raise; 0x80040265 is the code Dataverse gives an
// operation a plug-in refused (InvalidPluginExecutionException), which is
// how those rules run.
const codeBusinessRule = "0x80040265"

func refuse(format string, args ...any) *apiError {
	return badRequest(codeBusinessRule, format, args...)
}

// csEngine keeps what the engine needs between requests.
type csEngine struct {
	lastTick atomic.Int64 // unix second of the last sweep

	// SLA definitions read in the current write transaction, so that a
	// bulk message of many cases reads each SLA, its items and calendar
	// once. The cache belongs to one transaction (writes are serialised)
	// and is dropped whenever an SLA, item, KPI, calendar or calendar
	// rule is written.
	mu      sync.Mutex
	cacheTx *writeTx
	slas    map[string]*slaDef
}

// cachedSLA returns the SLA definition cached for tx, if any.
func (e *csEngine) cachedSLA(tx *writeTx, id string) (*slaDef, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cacheTx != tx {
		return nil, false
	}
	d, ok := e.slas[id]
	return d, ok
}

func (e *csEngine) storeSLA(tx *writeTx, id string, d *slaDef) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cacheTx != tx {
		e.cacheTx, e.slas = tx, map[string]*slaDef{}
	}
	e.slas[id] = d
}

func (e *csEngine) forget() {
	e.mu.Lock()
	e.cacheTx, e.slas = nil, nil
	e.mu.Unlock()
}

// csConfigRules: writing an SLA, SLA item, SLA KPI, calendar or calendar
// rule drops the engine's cached SLA definitions.
type csConfigRules struct{}

func (csConfigRules) beforeCreate(s *Server, _ *writeTx, _ *schema.Table, _ row) error {
	s.cs().forget()
	return nil
}

func (csConfigRules) beforeUpdate(s *Server, _ *writeTx, _ *schema.Table, _, _ row) error {
	s.cs().forget()
	return nil
}

func (csConfigRules) beforeDelete(s *Server, _ *writeTx, _ *schema.Table, _ string) error {
	s.cs().forget()
	return nil
}

func (s *Server) cs() *csEngine { return &s.csState }

// csInit creates the engine's bookkeeping: which entitlement terms each
// case holds (so that cancelling or reactivating gives back exactly what
// was taken), and indexes for the sweep.
func (s *Server) csInit() error {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS _cs_terms (incidentid TEXT NOT NULL, entitlementid TEXT NOT NULL, channelid TEXT NOT NULL DEFAULT '', amount REAL NOT NULL, PRIMARY KEY (incidentid, entitlementid, channelid)) WITHOUT ROWID`,
		// The KPI instances whose timers the engine runs: those it started.
		`CREATE TABLE IF NOT EXISTS _cs_timers (id TEXT PRIMARY KEY) WITHOUT ROWID`,
	}
	for table, cols := range map[string]string{
		"slakpiinstance":     `"status", "failuretime"`,
		"entitlement":        `"customerid", "statecode"`,
		"entitlementchannel": `"entitlementid"`,
		"slaitem":            `"slaid"`,
		"calendarrule":       `"calendarid"`,
	} {
		if t, ok := s.reg.Table(table); ok {
			stmts = append(stmts, `CREATE INDEX IF NOT EXISTS "ix_cs_`+table+`" ON `+sqlTable(t)+` (`+cols+`)`)
		}
	}
	for _, st := range stmts {
		if _, err := s.store.db.Exec(st); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) table(name string) *schema.Table {
	t, _ := s.reg.Table(name)
	return t
}

// csTables are the tables whose reads and writes see time-driven states.
var csTables = map[string]bool{"incident": true, "slakpiinstance": true, "entitlement": true, "entitlementchannel": true, "knowledgearticle": true}

// csTick moves what the clock moves, before a read of one of the Customer
// Service tables is served: SLA KPI instances past their warning or failure
// time, entitlements whose start or end date has come, articles whose
// publish-on or expiration date has come. It runs at most once per clock
// second; inside a $batch change set it joins the change set. Writes need
// no sweep: the engine evaluates the records a write touches against the
// clock itself (csSLAOnUpdate, csCheckEntitlement).
func (s *Server) csTick(r *http.Request, t *schema.Table) error {
	if r.Method != http.MethodGet || !csTables[t.LogicalName] {
		return nil
	}
	ctx := r.Context()
	now := s.store.clock().UTC().Truncate(time.Second)
	e := s.cs()
	last := e.lastTick.Load()
	if now.Unix() == last {
		return nil
	}
	// Reads must not queue behind writes for nothing: look first, without
	// the write lock, whether anything is due.
	if due, err := s.csDue(ctx, now); err != nil {
		return err
	} else if !due {
		e.lastTick.CompareAndSwap(last, now.Unix())
		return nil
	}
	err := s.store.write(ctx, func(tx *writeTx) error {
		if err := s.csSweepKPIs(tx); err != nil {
			return err
		}
		if err := s.csSweepEntitlements(tx); err != nil {
			return err
		}
		return s.csSweepArticles(tx)
	})
	if err == nil {
		e.lastTick.CompareAndSwap(last, now.Unix())
	}
	return err
}

// csDue tells whether a sweep at now would change anything.
func (s *Server) csDue(ctx context.Context, now time.Time) (bool, error) {
	q := s.store.reader(ctx)
	ts := now.Format(dateTimeLayout)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	tomorrow := today.AddDate(0, 0, 1).Format(dateTimeLayout)
	checks := []struct {
		table, where string
		args         []any
	}{
		{"slakpiinstance", `"status" IN (0, 2) AND (("status" = 0 AND "warningtime" <= ?) OR "failuretime" <= ?) AND "slakpiinstanceid" IN (SELECT id FROM _cs_timers)`, []any{ts, ts}},
		{"entitlement", `("statecode" IN (1, 4) AND "enddate" < ?) OR ("statecode" = 4 AND "startdate" < ?)`, []any{today.Format(dateTimeLayout), tomorrow}},
		{"knowledgearticle", `("statecode" = 2 AND "publishon" <= ?) OR ("statecode" = 3 AND "expirationdate" <= ?)`, []any{ts, ts}},
	}
	for _, c := range checks {
		t := s.table(c.table)
		if t == nil {
			continue
		}
		var one int
		err := q.QueryRowContext(ctx, `SELECT 1 FROM `+sqlTable(t)+` WHERE `+c.where+` LIMIT 1`, c.args...).Scan(&one)
		switch {
		case err == nil:
			return true, nil
		case !errors.Is(err, sql.ErrNoRows):
			return false, err
		}
	}
	return false, nil
}

// csRoutes serves the Customer Service actions: RenewEntitlement,
// CreateKnowledgeArticleVersion, CreateKnowledgeArticleTranslation.
func (s *Server) csRoutes(w http.ResponseWriter, r *http.Request, segs []string) bool {
	if len(segs) != 1 {
		return false
	}
	var fn func(http.ResponseWriter, *http.Request)
	switch segs[0] {
	case "RenewEntitlement":
		fn = s.renewEntitlement
	case "CreateKnowledgeArticleVersion":
		fn = s.createKnowledgeArticleVersion
	case "CreateKnowledgeArticleTranslation":
		fn = s.createKnowledgeArticleTranslation
	default:
		return false
	}
	if r.Method != http.MethodPost {
		writeError(w, methodNotAllowed(r.Method, segs[0]))
		return true
	}
	fn(w, r)
	return true
}

// ---- value helpers ---------------------------------------------------------

func idOf(v any) string {
	switch x := v.(type) {
	case lookupValue:
		return x.ID
	case string:
		return x
	}
	return ""
}

func intOf(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

func numOf(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case string:
		f, _ := strconv.ParseFloat(x, 64)
		return f
	}
	return 0
}

func boolOf(v any, def bool) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	}
	return def
}

func timeOf(v any) time.Time {
	s, _ := v.(string)
	for _, layout := range []string{time.RFC3339Nano, dateTimeLayout, dateOnlyLayout} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(dateTimeLayout)
}

// merged is a record as it will be after changes.
func merged(old, changes row) row {
	m := make(row, len(old)+len(changes))
	for k, v := range old {
		m[k] = v
	}
	for k, v := range changes {
		m[k] = v
	}
	return m
}

// plain turns a row into the values conditions compare: lookups become
// their GUID.
func plain(r row) map[string]any {
	out := make(map[string]any, len(r))
	for k, v := range r {
		if lv, ok := v.(lookupValue); ok {
			out[k] = lv.ID
			continue
		}
		out[k] = v
	}
	return out
}

// csUpdate writes platform changes to a record without running the rules
// again (the engine's own writes), stamping modifiedon.
func (s *Server) csUpdate(tx *writeTx, t *schema.Table, id string, changes row) error {
	if _, ok := t.Column("modifiedon"); ok {
		changes["modifiedon"] = tx.now.Format(dateTimeLayout)
	}
	return tx.update(t, id, changes)
}

// csAudit records an override the platform allows (a case that does not
// decrement its entitlement, terms taken below zero) as a note regarding
// the case, so that an audit of the case finds it.
//
// Decision: Dataverse would show these in the audit history when auditing
// is on; the reference server has no audit table, and a note on the case
// is the nearest record a client can read back.
func (s *Server) csAudit(tx *writeTx, incidentID, subject, text string) error {
	t := s.table("annotation")
	if t == nil {
		return nil
	}
	p := &payload{values: row{
		"annotationid": uuid.NewString(), "subject": subject, "notetext": text,
		"objectid": lookupValue{ID: incidentID, Target: "incident"}, "objecttypecode": "incident",
	}}
	_, err := s.createRecord(tx, t, p, "")
	return err
}
