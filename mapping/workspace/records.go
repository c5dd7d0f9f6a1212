// Package workspace translates a Unified Service Desk configuration model
// into Copilot Service workspace records: app profiles, session templates,
// application tab templates and their parameters, agent scripts and steps,
// macros, and notification templates with their fields (from Popup
// Notification controls). It is pure: no I/O, the same model and options always give
// byte-identical output, and every record carries a stable unique name so
// that writing it again updates instead of duplicating.
//
// Table and column names: dataverse/schema/catalog_usd.go. What maps to
// what: Microsoft's USD migration guidance
// (learn.microsoft.com/dynamics365/guidance/resources/cs-usd-migration-guide-map-components)
// and the assessment in usd/assess, which explains every component this
// package leaves out.
package workspace

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/dvsync/dvsync/usd"
)

// Tables written, in dependency order: a record only refers to records of
// tables listed before it, so a writer that follows this order never
// points at a missing row. Associations are written after all records.
var TableOrder = []string{
	"workflow",
	"msdyn_applicationtabtemplate",
	"msdyn_templateparameter",
	"msdyn_productivityagentscript",
	"msdyn_productivityagentscriptstep",
	"msdyn_sessiontemplate",
	"msdyn_appconfiguration",
	// Notification templates and fields only meet through their N:N
	// relationship, which is written after all records.
	"msdyn_notificationtemplate",
	"msdyn_notificationfield",
}

// KeyColumn is the alternate-key column that holds a table's unique name.
func KeyColumn(table string) string {
	if table == "workflow" {
		return "uniquename"
	}
	return "msdyn_uniquename"
}

// Ref points at another translated record by table and unique name; a
// writer turns it into an @odata.bind with an alternate key.
type Ref struct {
	Table      string `json:"table"`
	UniqueName string `json:"uniqueName"`
}

// Source names the USD component a record came from.
type Source struct {
	Kind usd.Kind `json:"kind"`
	ID   string   `json:"id"`
	Name string   `json:"name"`
}

// Record is one row to upsert. Fields hold strings, ints, bools or Refs
// (lookups), keyed by column logical name.
type Record struct {
	Table      string         `json:"table"`
	UniqueName string         `json:"uniqueName"`
	Fields     map[string]any `json:"fields"`
	// State, when set, is the state the record is moved to once it is
	// written. Dataverse treats a state as a transition, not a column, so
	// it never travels among Fields.
	State   *State   `json:"state,omitempty"`
	Sources []Source `json:"sources"`
}

// State is a record's statecode and statuscode.
type State struct {
	Code   int `json:"code"`
	Reason int `json:"reason"`
}

// Ref returns a reference to the record.
func (r *Record) Ref() Ref { return Ref{Table: r.Table, UniqueName: r.UniqueName} }

// Association is one N:N link to create.
type Association struct {
	Relationship string `json:"relationship"`
	From         Ref    `json:"from"`
	To           Ref    `json:"to"`
}

// Severity grades a diagnostic.
type Severity string

const (
	Info    Severity = "info"
	Warning Severity = "warning"
)

// Diagnostic explains a translation decision a person should know about.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Source   Source   `json:"source"`
	Target   *Ref     `json:"target,omitempty"`
	Message  string   `json:"message"`
}

// Result is a whole translation.
type Result struct {
	Records      []*Record     `json:"records"`
	Associations []Association `json:"associations"`
	Diagnostics  []Diagnostic  `json:"diagnostics"`
}

// Options tune a translation.
type Options struct {
	// Prefix starts every unique name, "dvs_" by default. It must be 3 to 8
	// letters or digits starting with a letter, followed by "_" (the
	// underscore is added when missing), the publisher-prefix form that
	// the workspace admin centre enforces on unique names
	// (learn.microsoft.com/dynamics365/customer-service/administer/session-templates).
	Prefix string
	// AppModuleUniqueName is written to the app profiles' app module;
	// empty leaves it unset.
	AppModuleUniqueName string
}

// PrefixError reports an invalid prefix.
type PrefixError struct{ Prefix string }

func (e *PrefixError) Error() string {
	return fmt.Sprintf("workspace: prefix %q must be 3 to 8 letters or digits starting with a letter, then an underscore (for example dvs_)", e.Prefix)
}

var prefixRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,7}_$`)

// NormalizePrefix validates a prefix and adds the underscore.
func NormalizePrefix(p string) (string, error) {
	if p == "" {
		return "dvs_", nil
	}
	if !strings.HasSuffix(p, "_") {
		p += "_"
	}
	if !prefixRE.MatchString(p) {
		return "", &PrefixError{Prefix: strings.TrimSuffix(p, "_")}
	}
	return strings.ToLower(p), nil
}

// maxUniqueName keeps unique names within msdyn_uniquename's 128
// characters ([DK-CSW] msdyn_sessiontemplate) with room to spare.
const maxUniqueName = 100

// namer hands out unique names per table. A name is the prefix plus a
// slug of the component's name; a second component with the same slug
// gets a suffix from its source id, so names stay stable between runs.
type namer struct {
	prefix string
	used   map[string]string // table/name → source key
}

func slugify(s string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			underscore = false
		} else if !underscore && b.Len() > 0 {
			b.WriteByte('_')
			underscore = true
		}
	}
	return strings.TrimRight(b.String(), "_")
}

func shortHash(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:4])
}

func (n *namer) name(table, sourceKey string, parts ...string) string {
	var slugs []string
	for _, p := range parts {
		if s := slugify(p); s != "" {
			slugs = append(slugs, s)
		}
	}
	base := n.prefix + strings.Join(slugs, "_")
	if len(slugs) == 0 {
		base = n.prefix + shortHash(sourceKey)
	}
	if len(base) > maxUniqueName {
		base = strings.TrimRight(base[:maxUniqueName-9], "_") + "_" + shortHash(base)
	}
	name := base
	if owner, taken := n.used[table+"/"+name]; taken && owner != sourceKey {
		name = strings.TrimRight(base[:min(len(base), maxUniqueName-9)], "_") + "_" + shortHash(sourceKey)
	}
	n.used[table+"/"+name] = sourceKey
	return name
}

// truncate shortens display names to a column's length.
func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
