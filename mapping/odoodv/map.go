package odoodv

import (
	"bufio"
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dvsync/dvsync/dataverse/schema"
)

//go:embed default.yaml
var defaultMapYAML []byte

// DefaultMapYAML is the documented default mapping file, as
// `dvsync migrate odoo --print-default-map` prints it.
func DefaultMapYAML() []byte { return slices.Clone(defaultMapYAML) }

// Map is a mapping file: every choice the translation makes. The field
// documentation lives in default.yaml, which is the reference.
type Map struct {
	IDSalt      string            `yaml:"id_salt" json:"id_salt"`
	Partners    PartnersMap       `yaml:"partners" json:"partners"`
	Teams       TeamsMap          `yaml:"teams" json:"teams"`
	Users       UsersMap          `yaml:"users" json:"users"`
	Tags        TagsMap           `yaml:"tags" json:"tags"`
	Stages      StagesMap         `yaml:"stages" json:"stages"`
	Priorities  map[string]int    `yaml:"priorities" json:"priorities"`
	Tickets     TicketsMap        `yaml:"tickets" json:"tickets"`
	SLAOutcomes SLAOutcomesMap    `yaml:"sla_outcomes" json:"sla_outcomes"`
	SLAs        SLAsMap           `yaml:"slas" json:"slas"`
	Messages    MessagesMap       `yaml:"messages" json:"messages"`
	Articles    ArticlesMap       `yaml:"articles" json:"articles"`
	Compare     CompareMap        `yaml:"compare" json:"compare"`
	userFile    map[string]string // users.map_file, read by LoadMap
}

// PartnersMap configures res.partner → account/contact.
type PartnersMap struct {
	AccountNumber    string `yaml:"account_number" json:"account_number"`
	SkipUserPartners bool   `yaml:"skip_user_partners" json:"skip_user_partners"`
	SkipIDs          []int  `yaml:"skip_ids" json:"skip_ids"`
	MigrateArchived  bool   `yaml:"migrate_archived" json:"migrate_archived"`
}

// TeamsMap configures helpdesk teams → queues and SLAs.
type TeamsMap struct {
	QueueName string            `yaml:"queue_name" json:"queue_name"`
	SLAName   string            `yaml:"sla_name" json:"sla_name"`
	Calendars map[string]string `yaml:"calendars" json:"calendars"`
}

// UsersMap configures res.users → systemuser matching.
type UsersMap struct {
	Map          map[string]string `yaml:"map" json:"map"`
	MapFile      string            `yaml:"map_file" json:"map_file"`
	DefaultOwner string            `yaml:"default_owner" json:"default_owner"`
}

// Tag modes.
const (
	TagsSubject = "subject"
	TagsChoice  = "choice"
	TagsNone    = "none"
)

// TagsMap configures what ticket tags become.
type TagsMap struct {
	Mode          string         `yaml:"mode" json:"mode"`
	ParentSubject string         `yaml:"parent_subject" json:"parent_subject"`
	Column        string         `yaml:"column" json:"column"`
	Values        map[string]int `yaml:"values" json:"values"`
}

// Case states.
const (
	StateActive    = "active"
	StateResolved  = "resolved"
	StateCancelled = "cancelled"
)

var stateCodes = map[string]int{StateActive: 0, StateResolved: 1, StateCancelled: 2}

// StagesMap turns stages into case states.
type StagesMap struct {
	Rules   []StageRule  `yaml:"rules" json:"rules"`
	Default StageOutcome `yaml:"default" json:"default"`
}

// StageRule matches stages by name and closed flag.
type StageRule struct {
	Names        []string `yaml:"names" json:"names,omitempty"`
	Closed       *bool    `yaml:"closed" json:"closed,omitempty"`
	StageOutcome `yaml:",inline" json:",inline"`
}

// StageOutcome is a case state and status reason.
type StageOutcome struct {
	State  string `yaml:"state" json:"state"`
	Status int    `yaml:"status" json:"status"`
}

// TicketsMap configures helpdesk.ticket → incident.
type TicketsMap struct {
	Number            string         `yaml:"number" json:"number"`
	Customer          string         `yaml:"customer" json:"customer"`
	FallbackPartner   int            `yaml:"fallback_partner" json:"fallback_partner"`
	MigrateArchived   bool           `yaml:"migrate_archived" json:"migrate_archived"`
	Origins           map[string]int `yaml:"origins" json:"origins"`
	ResolutionSubject string         `yaml:"resolution_subject" json:"resolution_subject"`
}

// Customer choices.
const (
	CustomerAccount = "account"
	CustomerContact = "contact"
)

// SLAOutcomesMap configures helpdesk.sla.status → slakpiinstance.
type SLAOutcomesMap struct {
	Status map[string]int `yaml:"status" json:"status"`
}

// SLAsMap configures helpdesk.sla → slaitem.
type SLAsMap struct {
	WarnFraction float64 `yaml:"warn_fraction" json:"warn_fraction"`
}

// MessagesMap configures mail.message → annotation.
type MessagesMap struct {
	SkipTypes []string `yaml:"skip_types" json:"skip_types"`
	SkipEmpty bool     `yaml:"skip_empty" json:"skip_empty"`
	Format    string   `yaml:"format" json:"format"`
}

// ArticlesMap configures knowledge.article → knowledgearticle.
type ArticlesMap struct {
	PublicNumber    string `yaml:"public_number" json:"public_number"`
	MigrateArchived bool   `yaml:"migrate_archived" json:"migrate_archived"`
}

// MapError is an invalid mapping file.
type MapError struct {
	File string // "" for the embedded default or an in-memory map
	Err  error
}

func (e *MapError) Error() string {
	if e.File == "" {
		return "mapping: " + e.Err.Error()
	}
	return "mapping file " + e.File + ": " + e.Err.Error()
}

func (e *MapError) Unwrap() error { return e.Err }

// DefaultMap returns the embedded default mapping.
func DefaultMap() *Map {
	m, err := ParseMap(nil)
	if err != nil {
		panic("odoodv: embedded default map: " + err.Error())
	}
	return m
}

// ParseMap reads a mapping file (YAML, or JSON, which YAML reads) over the
// default: keys left out keep their default, maps are merged key by key,
// lists replace the default list. Unknown keys are errors.
func ParseMap(data []byte) (*Map, error) {
	m := &Map{}
	if err := decodeStrict(defaultMapYAML, m); err != nil {
		return nil, &MapError{Err: fmt.Errorf("default: %w", err)}
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := decodeStrict(data, m); err != nil {
			return nil, &MapError{Err: err}
		}
	}
	if err := m.Validate(); err != nil {
		return nil, &MapError{Err: err}
	}
	return m, nil
}

func decodeStrict(data []byte, m *Map) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(m); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// LoadMap reads a mapping file and the user map file it names.
func LoadMap(file string) (*Map, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &MapError{File: file, Err: err}
	}
	m, err := ParseMap(data)
	if err != nil {
		var me *MapError
		if errors.As(err, &me) {
			me.File = file
		}
		return nil, err
	}
	if m.Users.MapFile != "" {
		p := m.Users.MapFile
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, &MapError{File: file, Err: fmt.Errorf("users.map_file: %w", err)}
		}
		defer f.Close()
		if m.userFile, err = ParseUserMap(f); err != nil {
			return nil, &MapError{File: p, Err: err}
		}
	}
	return m, nil
}

// ParseUserMap reads a user map file: one "odoo-login-or-email,dataverse-
// email" pair per line; blank lines and lines starting with # are ignored.
// Keys compare case-insensitively.
func ParseUserMap(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		from, to, ok := strings.Cut(line, ",")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || !strings.Contains(to, "@") {
			return nil, fmt.Errorf("line %d: want \"odoo-login-or-email,dataverse-email\", got %q", n, line)
		}
		out[strings.ToLower(from)] = to
	}
	return out, sc.Err()
}

// SetUserMap adds user overrides (as a user map file would).
func (m *Map) SetUserMap(users map[string]string) {
	if m.userFile == nil {
		m.userFile = map[string]string{}
	}
	for k, v := range users {
		m.userFile[strings.ToLower(k)] = v
	}
}

// Validate checks every choice value against the Customer Service table
// definitions and every rule for consistency.
func (m *Map) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	reg := schema.Default()
	choice := func(table, col string, v int, what string) {
		t, ok := reg.Table(table)
		if !ok {
			bad("%s: table %s is not defined", what, table)
			return
		}
		c, ok := t.Column(col)
		if !ok {
			bad("%s: %s has no column %s", what, table, col)
			return
		}
		if _, ok := c.OptionByValue(v); !ok {
			bad("%s: %d is not a value of %s.%s (%s)", what, v, table, col, optionList(c))
		}
	}
	if m.Partners.AccountNumber == "" || !strings.Contains(m.Partners.AccountNumber, "{id}") {
		bad("partners.account_number must contain {id}, so every account number is unique")
	}
	if !strings.Contains(m.Teams.QueueName, "{name}") && !strings.Contains(m.Teams.QueueName, "{id}") {
		bad("teams.queue_name must contain {name} or {id}, so every queue name is unique")
	}
	if !strings.Contains(m.Teams.SLAName, "{name}") && !strings.Contains(m.Teams.SLAName, "{id}") {
		bad("teams.sla_name must contain {name} or {id}, so every SLA name is unique")
	}
	switch m.Tags.Mode {
	case TagsSubject:
		if m.Tags.ParentSubject == "" {
			bad("tags.parent_subject is empty")
		}
	case TagsChoice:
		for name, v := range m.Tags.Values {
			choice("incident", m.Tags.Column, v, "tags.values["+name+"]")
		}
	case TagsNone:
	default:
		bad("tags.mode %q: want subject, choice or none", m.Tags.Mode)
	}
	outcome := func(o StageOutcome, what string) {
		st, ok := stateCodes[o.State]
		if !ok {
			bad("%s: state %q: want active, resolved or cancelled", what, o.State)
			return
		}
		t, _ := reg.Table("incident")
		c, _ := t.Column("statuscode")
		opt, ok := c.OptionByValue(o.Status)
		switch {
		case !ok:
			bad("%s: status %d is not an incident statuscode (%s)", what, o.Status, optionList(c))
		case opt.State == nil || *opt.State != st:
			bad("%s: status %d (%s) does not belong to state %s", what, o.Status, opt.Label, o.State)
		}
	}
	for i, r := range m.Stages.Rules {
		what := fmt.Sprintf("stages.rules[%d]", i)
		if len(r.Names) == 0 && r.Closed == nil {
			bad("%s has no condition (names or closed); use stages.default instead", what)
		}
		for _, p := range r.Names {
			if _, err := path.Match(strings.ToLower(p), ""); err != nil {
				bad("%s: pattern %q: %v", what, p, err)
			}
		}
		outcome(r.StageOutcome, what)
	}
	outcome(m.Stages.Default, "stages.default")
	for _, k := range []string{"0", "1", "2", "3"} {
		v, ok := m.Priorities[k]
		if !ok {
			bad("priorities: no value for Odoo priority %q", k)
			continue
		}
		choice("incident", "prioritycode", v, "priorities["+k+"]")
	}
	for k := range m.Priorities {
		if !slices.Contains([]string{"0", "1", "2", "3"}, k) {
			bad("priorities: %q is not an Odoo priority (0 to 3)", k)
		}
	}
	if !strings.Contains(m.Tickets.Number, "{ref}") && !strings.Contains(m.Tickets.Number, "{id}") {
		bad("tickets.number must contain {ref} or {id}, so every case number is unique")
	}
	if m.Tickets.Customer != CustomerAccount && m.Tickets.Customer != CustomerContact {
		bad("tickets.customer %q: want account or contact", m.Tickets.Customer)
	}
	for name, v := range m.Tickets.Origins {
		choice("incident", "caseorigincode", v, "tickets.origins["+name+"]")
	}
	for name, v := range m.SLAOutcomes.Status {
		choice("slakpiinstance", "status", v, "sla_outcomes.status["+name+"]")
	}
	if m.SLAs.WarnFraction <= 0 || m.SLAs.WarnFraction > 1 {
		bad("slas.warn_fraction %v: want a fraction in (0, 1]", m.SLAs.WarnFraction)
	}
	if m.Messages.Format != "html" && m.Messages.Format != "text" {
		bad("messages.format %q: want html or text", m.Messages.Format)
	}
	if !strings.Contains(m.Articles.PublicNumber, "{id}") {
		bad("articles.public_number must contain {id}")
	}
	for email := range m.Users.Map {
		if email == "" {
			bad("users.map has an empty key")
		}
	}
	return errors.Join(errs...)
}

func optionList(c *schema.Column) string {
	var parts []string
	for _, o := range c.Options {
		parts = append(parts, fmt.Sprintf("%d %s", o.Value, o.Label))
	}
	return strings.Join(parts, ", ")
}
