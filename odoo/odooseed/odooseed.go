// Package odooseed generates helpdesk tickets, their message threads and
// their SLA statuses for the reference Odoo server, on top of a hand-written
// base seed (teams, stages, SLA policies, calendars, partners, users, tags;
// testdata/odoo/seed). Output is deterministic for a given Options.Seed, so
// the committed seed can be regenerated and benchmarks can ask for any N.
package odooseed

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // calendars name IANA zones; do not depend on the host's zoneinfo

	"github.com/dvsync/dvsync/odoo/internal/workcal"
)

// Generated is the set of files Generate writes; the rest of a seed directory
// is the hand-written base it reads.
var Generated = []string{"helpdesk.ticket.jsonl", "mail.message.jsonl", "helpdesk.sla.status.jsonl"}

// Options control Generate.
type Options struct {
	// BaseDir holds the base seed (testdata/odoo/seed).
	BaseDir string
	// OutDir receives the generated files. When it differs from BaseDir the
	// base files are copied too, so OutDir is a complete seed.
	OutDir string
	// Tickets is how many tickets to generate.
	Tickets int
	// Seed makes the output reproducible.
	Seed uint64
	// Now is the moment the data is "as of" (default 2026-03-01 09:00 UTC).
	// No event is later than Now.
	Now time.Time
	// Span is how far back creation dates reach (default 180 days).
	Span time.Duration
}

// Stats counts what Generate wrote.
type Stats struct {
	Tickets, Messages, SLAStatuses int
}

type row = map[string]any

type base struct {
	teams      []row
	stages     map[int]row
	slas       []row
	users      map[int]row
	partners   map[int]row
	customers  []int // contacts and individuals who open tickets
	vipClients []int // contacts of the accounts the VIP team serves
	calendars  map[int]*workcal.Calendar
	tags       []int
}

const odooDatetime = "2006-01-02 15:04:05"

// Generate writes Options.Tickets tickets with threads and SLA statuses.
func Generate(opts Options) (Stats, error) {
	if opts.Tickets < 0 {
		return Stats{}, errors.New("odooseed: negative ticket count")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	}
	if opts.Span <= 0 {
		opts.Span = 180 * 24 * time.Hour
	}
	b, err := readBase(opts.BaseDir)
	if err != nil {
		return Stats{}, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return Stats{}, err
	}
	if err := copyBase(opts.BaseDir, opts.OutDir); err != nil {
		return Stats{}, err
	}
	w := map[string]*jsonlWriter{}
	for _, name := range Generated {
		jw, err := newJSONLWriter(filepath.Join(opts.OutDir, name))
		if err != nil {
			return Stats{}, err
		}
		defer jw.f.Close()
		w[name] = jw
	}
	g := &generator{b: b, opts: opts, rnd: rand.New(rand.NewPCG(opts.Seed, 0x0d005eed)), w: w, msgID: 1, statusID: 1}
	for id := 1; id <= opts.Tickets; id++ {
		if err := g.ticket(id); err != nil {
			return Stats{}, err
		}
	}
	for _, name := range Generated {
		if err := w[name].close(); err != nil {
			return Stats{}, err
		}
	}
	return Stats{Tickets: opts.Tickets, Messages: g.msgID - 1, SLAStatuses: g.statusID - 1}, nil
}

type jsonlWriter struct {
	f   *os.File
	buf *bufio.Writer
	enc *json.Encoder
}

func newJSONLWriter(path string) (*jsonlWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	buf := bufio.NewWriterSize(f, 1<<16)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return &jsonlWriter{f: f, buf: buf, enc: enc}, nil
}

func (w *jsonlWriter) write(v any) error { return w.enc.Encode(v) }

func (w *jsonlWriter) close() error {
	if err := w.buf.Flush(); err != nil {
		return err
	}
	return w.f.Close()
}

func readJSONL(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []row
	dec := json.NewDecoder(f)
	for {
		var r row
		if err := dec.Decode(&r); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("odooseed: %s: %w", path, err)
		}
		out = append(out, r)
	}
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func ints(v any) []int {
	list, _ := v.([]any)
	out := make([]int, 0, len(list))
	for _, x := range list {
		out = append(out, num(x))
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

func readBase(dir string) (*base, error) {
	load := func(model string) ([]row, error) { return readJSONL(filepath.Join(dir, model+".jsonl")) }
	b := &base{stages: map[int]row{}, users: map[int]row{}, partners: map[int]row{}, calendars: map[int]*workcal.Calendar{}}
	var err error
	if b.teams, err = load("helpdesk.team"); err != nil {
		return nil, err
	}
	if b.slas, err = load("helpdesk.sla"); err != nil {
		return nil, err
	}
	stages, err := load("helpdesk.stage")
	if err != nil {
		return nil, err
	}
	for _, s := range stages {
		b.stages[num(s["id"])] = s
	}
	users, err := load("res.users")
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		b.users[num(u["id"])] = u
	}
	partners, err := load("res.partner")
	if err != nil {
		return nil, err
	}
	for _, p := range partners {
		id := num(p["id"])
		b.partners[id] = p
		parent := num(p["parent_id"])
		active, hasActive := p["active"].(bool)
		if (hasActive && !active) || id == 1 || parent == 1 || p["is_company"] == true || (str(p["type"]) != "" && str(p["type"]) != "contact") {
			continue
		}
		b.customers = append(b.customers, id)
		if parent == 11 || parent == 12 {
			b.vipClients = append(b.vipClients, id)
		}
	}
	tags, err := load("helpdesk.tag")
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		b.tags = append(b.tags, num(t["id"]))
	}
	cals, err := load("resource.calendar")
	if err != nil {
		return nil, err
	}
	for _, c := range cals {
		loc, err := time.LoadLocation(str(c["tz"]))
		if err != nil {
			return nil, fmt.Errorf("odooseed: calendar %v: %w", c["id"], err)
		}
		hpd, _ := c["hours_per_day"].(float64)
		b.calendars[num(c["id"])] = workcal.New(loc, hpd)
	}
	att, err := load("resource.calendar.attendance")
	if err != nil {
		return nil, err
	}
	for _, a := range att {
		if c := b.calendars[num(a["calendar_id"])]; c != nil {
			from, _ := a["hour_from"].(float64)
			to, _ := a["hour_to"].(float64)
			c.Add(str(a["dayofweek"]), from, to)
		}
	}
	if len(b.teams) == 0 || len(b.customers) == 0 {
		return nil, fmt.Errorf("odooseed: base seed in %s has no teams or no customers", dir)
	}
	return b, nil
}

func copyBase(from, to string) error {
	if a, err := filepath.Abs(from); err == nil {
		if b, err := filepath.Abs(to); err == nil && a == b {
			return nil
		}
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".jsonl") || slices.Contains(Generated, e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

type generator struct {
	b        *base
	opts     Options
	rnd      *rand.Rand
	w        map[string]*jsonlWriter
	msgID    int
	statusID int
}

// Stage ids of the base seed, which mirrors Enterprise's helpdesk_data.xml.
const (
	stageNew        = 1
	stageInProgress = 2
	stageOnHold     = 3
	stageSolved     = 4
	stageCancelled  = 5
)

func (g *generator) hours(lo, hi float64) time.Duration {
	return time.Duration((lo + g.rnd.Float64()*(hi-lo)) * float64(time.Hour))
}

func (g *generator) pick(ids []int) int { return ids[g.rnd.IntN(len(ids))] }

func (g *generator) team() row {
	// Customer Care carries most of the load.
	weights := []int{50, 15, 20, 15}
	n := g.rnd.IntN(100)
	for i, wt := range weights {
		if n < wt && i < len(g.b.teams) {
			return g.b.teams[i]
		}
		n -= wt
	}
	return g.b.teams[0]
}

type event struct {
	stage int
	at    time.Time
}

func (g *generator) ticket(id int) error {
	b, now := g.b, g.opts.Now
	team := g.team()
	teamID := num(team["id"])
	stages := ints(team["stage_ids"])
	members := ints(team["member_ids"])
	created := now.Add(-time.Duration(g.rnd.Float64() * float64(g.opts.Span))).Truncate(time.Second)

	customer := g.pick(b.customers)
	if teamID == 2 && len(b.vipClients) > 0 {
		customer = g.pick(b.vipClients)
	}
	partner := b.partners[customer]
	priority := []string{"0", "0", "0", "0", "0", "1", "1", "1", "2", "2", "3"}[g.rnd.IntN(11)]
	subject, body := g.subject(id, str(partner["name"]))
	var tags []int
	for range g.rnd.IntN(3) {
		if t := g.pick(b.tags); !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	slices.Sort(tags)
	ticketType := []int{1, 2, 2, 3}[g.rnd.IntN(4)]

	// The path through the stages, cut at Now.
	target := []int{stageNew, stageInProgress, stageInProgress, stageOnHold, stageSolved, stageSolved, stageSolved, stageSolved, stageCancelled}[g.rnd.IntN(9)]
	if !slices.Contains(stages, target) {
		target = stageSolved
	}
	events := []event{{stageNew, created}}
	at := created
	step := func(stage int, lo, hi float64) {
		at = at.Add(g.hours(lo, hi)).Truncate(time.Second)
		events = append(events, event{stage, at})
	}
	switch target {
	case stageInProgress:
		step(stageInProgress, 0.2, 30)
	case stageOnHold:
		step(stageInProgress, 0.2, 30)
		step(stageOnHold, 1, 48)
	case stageSolved:
		step(stageInProgress, 0.2, 30)
		if slices.Contains(stages, stageOnHold) && g.rnd.IntN(4) == 0 {
			step(stageOnHold, 1, 24)
		}
		step(stageSolved, 1, 120)
	case stageCancelled:
		step(stageCancelled, 1, 72)
	}
	for len(events) > 1 && events[len(events)-1].at.After(now) {
		events = events[:len(events)-1]
	}
	final := events[len(events)-1]
	var user int
	var assigned time.Time
	if final.stage != stageNew || g.rnd.IntN(3) == 0 {
		user = g.pick(members)
		assigned = created.Add(g.hours(0.05, 2)).Truncate(time.Second)
		if len(events) > 1 && assigned.After(events[1].at) {
			assigned = events[1].at
		}
		if assigned.After(now) {
			user, assigned = 0, time.Time{}
		}
	}

	t := row{
		"id": id, "name": subject, "description": body, "ticket_ref": fmt.Sprintf("%02d", id), // sequence helpdesk.ticket, padding 2
		"team_id": teamID, "stage_id": final.stage, "partner_id": customer,
		"priority": priority, "tag_ids": tags, "ticket_type_id": ticketType, "category_id": ticketType,
		"channel_id":             []int{1, 2, 2, 2, 3, 4}[g.rnd.IntN(6)],
		"kanban_state":           []string{"normal", "normal", "normal", "done", "blocked"}[g.rnd.IntN(5)],
		"create_date":            created.Format(odooDatetime),
		"date_last_stage_update": final.at.Format(odooDatetime),
	}
	if p := str(partner["phone"]); p != "" {
		t["partner_phone"] = p
	}
	if user != 0 {
		t["user_id"] = user
		t["assign_date"] = assigned.Format(odooDatetime)
		t["assign_hours"] = g.workingHours(team, created, assigned)
	}
	if final.stage == stageSolved || final.stage == stageCancelled {
		t["close_date"] = final.at.Format(odooDatetime)
		t["close_hours"] = g.workingHours(team, created, final.at)
	}
	if g.rnd.IntN(20) == 0 && (final.stage == stageSolved || final.stage == stageCancelled) {
		t["active"] = false // archived, visible only with active_test=False
	}
	if g.rnd.IntN(10) == 0 {
		t["email_cc"] = "\"Office\" <office@" + strings.SplitN(str(partner["email"])+"@example.com", "@", 3)[1] + ">"
	}

	last, err := g.thread(id, subject, body, partner, user, events)
	if err != nil {
		return err
	}
	slaIDs, err := g.slaStatuses(id, t, team, partner, events)
	if err != nil {
		return err
	}
	t["sla_ids"] = slaIDs
	if last.Before(final.at) {
		last = final.at
	}
	t["write_date"] = last.Format(odooDatetime)
	return g.w["helpdesk.ticket.jsonl"].write(t)
}

func (g *generator) workingHours(team row, a, b time.Time) float64 {
	return g.b.calendars[num(team["resource_calendar_id"])].WorkingHours(a, b)
}

var subjects = []struct{ subject, body string }{
	{"Cannot log in to the customer portal", "<p>Hello,</p><p>since this morning the portal says my password is wrong, although I reset it twice. Could you check my account?</p>"},
	{"Invoice %d shows the wrong VAT number", "<p>Hi,</p><p>the VAT number on invoice <strong>INV/2026/%05d</strong> is our old one. Please send a corrected invoice.</p>"},
	{"Chair wheels aren't working", "<p>Two of the office chairs we received last week have wheels that do not turn. Photos attached.</p>"},
	{"Delivery for order S%05d is late", "<p>Dear support,</p><p>order <em>S%05d</em> was promised for Monday and has not arrived. Can you give us a tracking number?</p>"},
	{"Kitchen cabinet door collapsing", "<p>The left door of the cabinet came off its hinge. Nobody was hurt but we need a technician &mdash; quickly please.</p>"},
	{"Request: export of all our tickets", "<p>For our audit we need a CSV of every ticket we opened in 2025, with dates and status.</p>"},
	{"Wi-Fi printer offline after firmware update", "<p>After the update pushed on Friday the printer on floor 2 no longer shows up. We tried turning it off &amp; on.</p>"},
	{"Question about warranty extension", "<p>Is it possible to extend the warranty of our desks from 36 to 60 months? What would it cost?</p>"},
	{"Duplicate charge on credit card", "<p>We were charged twice (2 × €%d.00) on the same day. Please refund one of the payments.</p>"},
	{"Website contact form returns an error", "<p>Submitting the form shows <code>500 Internal Server Error</code>. Screenshot below.</p><p><img src=\"/web/image/%d\" alt=\"screenshot\"/></p>"},
	{"Onboarding session for new staff", "<p>We hired three people in accounting; could you schedule a 1-hour onboarding?</p>"},
	{"Ersatzteil für Regal bestellt — keine Bestätigung", "<p>Guten Tag,</p><p>wir haben vor einer Woche ein Ersatzteil bestellt und keine Bestätigung erhalten.</p>"},
	{"Commande %d : colis endommagé", "<p>Bonjour,</p><p>le colis de la commande %d est arrivé abîmé. Que faire ?</p>"},
	{"Password reset email never arrives", "<p>I tried three times; nothing in spam either. Address: see my contact details.</p>"},
	{"Need a quote for 40 standing desks", "<p>Please quote 40 electric standing desks, delivered to our new office in April.</p>"},
}

func (g *generator) subject(id int, customer string) (string, string) {
	s := subjects[g.rnd.IntN(len(subjects))]
	n := 1000 + id
	subject, body := s.subject, s.body
	if strings.Contains(subject, "%") {
		subject = fmt.Sprintf(subject, n)
	}
	if c := strings.Count(body, "%"); c > 0 {
		args := make([]any, c)
		for i := range args {
			args[i] = n
		}
		body = fmt.Sprintf(body, args...)
	}
	return subject, body + "<p>Kind regards,<br/>" + htmlEscape(customer) + "</p>"
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&quot;")

func htmlEscape(s string) string { return htmlEscaper.Replace(s) }

// thread writes the ticket's messages: the customer's email, agent replies
// and internal notes along the stage events. It returns the last date.
func (g *generator) thread(ticket int, subject, body string, partner row, user int, events []event) (time.Time, error) {
	w := g.w["mail.message.jsonl"]
	customer := num(partner["id"])
	from := fmt.Sprintf("%q <%s>", str(partner["name"]), str(partner["email"]))
	agentPartner, agentName := 0, ""
	if u := g.b.users[user]; u != nil {
		agentPartner, agentName = num(u["partner_id"]), str(u["name"])
	}
	var last time.Time
	emit := func(at time.Time, m row) error {
		if at.After(g.opts.Now) {
			return nil // the data is "as of" Now; later replies have not happened
		}
		m["id"] = g.msgID
		g.msgID++
		m["model"] = "helpdesk.ticket"
		m["res_id"] = ticket
		m["date"] = at.Format(odooDatetime)
		m["create_date"] = m["date"]
		m["write_date"] = m["date"]
		last = at
		return w.write(m)
	}
	created := events[0].at
	if err := emit(created, row{"message_type": "email", "subtype_id": 1, "author_id": customer, "email_from": from, "subject": subject, "body": body}); err != nil {
		return last, err
	}
	if agentPartner == 0 {
		return last, nil
	}
	for i, ev := range events[1:] {
		at := ev.at.Add(-time.Duration(g.rnd.IntN(600)) * time.Second)
		if !at.After(last) {
			at = last.Add(time.Minute)
		}
		var m row
		switch ev.stage {
		case stageInProgress:
			m = row{"message_type": "comment", "subtype_id": 1, "author_id": agentPartner, "partner_ids": []int{customer},
				"body": fmt.Sprintf("<p>Hello %s,</p><p>thank you for reaching out. I am looking into it and will get back to you shortly.</p><p>%s</p>", htmlEscape(str(partner["name"])), htmlEscape(agentName))}
		case stageOnHold:
			m = row{"message_type": "comment", "subtype_id": 1, "author_id": agentPartner, "partner_ids": []int{customer},
				"body": "<p>Could you send us the order number and a photo of the label? We will wait for your answer before going further.</p>"}
		case stageSolved:
			m = row{"message_type": "comment", "subtype_id": 1, "author_id": agentPartner, "partner_ids": []int{customer},
				"body": "<p>This should now be fixed. Do not hesitate to reply if anything is still wrong.</p>"}
		case stageCancelled:
			m = row{"message_type": "comment", "subtype_id": 2, "is_internal": true, "author_id": agentPartner,
				"body": "<p>Duplicate of an earlier request; closing.</p>"}
		}
		if err := emit(at, m); err != nil {
			return last, err
		}
		if i == 0 && g.rnd.IntN(5) < 2 {
			note := row{"message_type": "comment", "subtype_id": 2, "is_internal": true, "author_id": agentPartner,
				"body": "<p>Internal: checked the order history, nothing unusual. <b>Do not</b> promise a date yet.</p>"}
			if err := emit(at.Add(g.hours(0.1, 2)).Truncate(time.Second), note); err != nil {
				return last, err
			}
		}
		if i == 0 && g.rnd.IntN(2) == 0 {
			reply := row{"message_type": "email", "subtype_id": 1, "author_id": customer, "email_from": from, "subject": "Re: " + subject,
				"body": "<p>Thanks for the quick answer!</p><blockquote>I am looking into it and will get back to you shortly.</blockquote>"}
			if err := emit(at.Add(g.hours(0.2, 5)).Truncate(time.Second), reply); err != nil {
				return last, err
			}
		}
	}
	return last, nil
}

// slaStatuses applies Enterprise's SLA matching rules (research/odoo.md §2,
// helpdesk.sla) and writes one helpdesk.sla.status per matching policy.
// Time spent in excluded stages is not added back.
func (g *generator) slaStatuses(ticket int, t row, team row, partner row, events []event) ([]int, error) {
	b, now := g.b, g.opts.Now
	cal := b.calendars[num(team["resource_calendar_id"])]
	created := events[0].at
	commercial := num(partner["parent_id"])
	if commercial == 0 {
		commercial = num(partner["id"])
	}
	var ids []int
	var earliest time.Time
	reachedAny, lateAny := false, false
	for _, sla := range b.slas {
		if num(sla["team_id"]) != num(team["id"]) || str(sla["priority"]) != t["priority"] {
			continue
		}
		if tags := ints(sla["tag_ids"]); len(tags) > 0 && !intersects(tags, t["tag_ids"].([]int)) {
			continue
		}
		if ps := ints(sla["partner_ids"]); len(ps) > 0 && !slices.Contains(ps, num(partner["id"])) && !slices.Contains(ps, commercial) {
			continue
		}
		if types := ints(sla["ticket_type_ids"]); len(types) > 0 && !slices.Contains(types, t["ticket_type_id"].(int)) {
			continue
		}
		hours, _ := sla["time"].(float64)
		deadline := cal.Deadline(created, hours).Truncate(time.Second)
		targetSeq := num(b.stages[num(sla["stage_id"])]["sequence"])
		var reached time.Time
		for _, ev := range events {
			if num(b.stages[ev.stage]["sequence"]) >= targetSeq {
				reached = ev.at
				break
			}
		}
		st := row{"id": g.statusID, "ticket_id": ticket, "sla_id": num(sla["id"]), "sla_stage_id": num(sla["stage_id"]),
			"deadline": deadline.Format(odooDatetime)}
		g.statusID++
		switch {
		case !reached.IsZero():
			st["reached_datetime"] = reached.Format(odooDatetime)
			st["exceeded_hours"] = cal.WorkingHours(deadline, reached)
			if reached.After(deadline) {
				st["status"] = "failed"
				lateAny = true
			} else {
				st["status"] = "reached"
				reachedAny = true
			}
		case deadline.Before(now):
			st["status"] = "failed"
			st["exceeded_hours"] = cal.WorkingHours(deadline, now)
		default:
			st["status"] = "ongoing"
		}
		if reached.IsZero() && (earliest.IsZero() || deadline.Before(earliest)) {
			earliest = deadline
		}
		if err := g.w["helpdesk.sla.status.jsonl"].write(st); err != nil {
			return nil, err
		}
		ids = append(ids, num(sla["id"]))
	}
	if !earliest.IsZero() {
		t["sla_deadline"] = earliest.Format(odooDatetime)
	}
	t["sla_reached"] = reachedAny
	t["sla_reached_late"] = lateAny
	if ids == nil {
		ids = []int{}
	}
	return ids, nil
}

func intersects(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
