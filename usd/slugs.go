package usd

import (
	"fmt"
	"strings"
)

// Copilot Service workspace slugs are the counterpart of replacement
// parameters: {anchor.<attr>} and a few named values in session and tab
// template titles, ${anchor.<attr>} and ${$session.<key>} in macros and
// agent scripts (learn.microsoft.com/dynamics365/customer-service/administer/automation-dictionary-keys).
// The translation lives here, beside the parser, because both the
// assessment (this package) and the record mapping (mapping/workspace)
// need the same answer to "does this parameter carry over?".

// SlugContext says where a translated string will be used.
type SlugContext int

const (
	// SlugTemplate is a session or application tab template field:
	// slugs are written {name}.
	SlugTemplate SlugContext = iota
	// SlugMacro is a macro action input or agent script text: slugs are
	// written ${name}.
	SlugMacro
)

// SlugIssueKind grades a translation issue.
type SlugIssueKind string

const (
	// SlugApproximate means a slug was written but its value can differ
	// from what USD produced; a person should check it.
	SlugApproximate SlugIssueKind = "approximate"
	// SlugUnsupported means nothing in the workspace provides the value;
	// the parameter is kept verbatim and the result will not work as is.
	SlugUnsupported SlugIssueKind = "unsupported"
)

// SlugIssue explains one parameter that did not translate exactly.
type SlugIssue struct {
	Kind   SlugIssueKind `json:"kind"`
	Param  string        `json:"param"`
	Pos    Pos           `json:"pos"`
	Reason string        `json:"reason"`
}

// SlugTranslation is a translated string with its issues.
type SlugTranslation struct {
	Text   string      `json:"text"`
	Issues []SlugIssue `json:"issues,omitempty"`
}

// Unsupported reports whether any parameter has no equivalent.
func (t SlugTranslation) Unsupported() bool {
	for _, i := range t.Issues {
		if i.Kind == SlugUnsupported {
			return true
		}
	}
	return false
}

// activityTables share the activityid primary key.
var activityTables = map[string]bool{"email": true, "phonecall": true, "task": true, "appointment": true, "letter": true, "fax": true}

// primaryKeyOf returns the primary key column of a standard table.
func primaryKeyOf(entity string) string {
	if activityTables[entity] {
		return "activityid"
	}
	return entity + "id"
}

// TranslateParams rewrites the replacement parameters of s as slugs for
// a session anchored on anchorEntity (a logical name, or "" for a generic
// session). Syntax errors are returned as unsupported issues, so callers
// see every problem in one list.
func TranslateParams(s string, ctx SlugContext, anchorEntity string) SlugTranslation {
	tpl, errs := ParseParams(s)
	var out strings.Builder
	var issues []SlugIssue
	for _, e := range errs {
		issues = append(issues, SlugIssue{Kind: SlugUnsupported, Pos: e.Pos, Param: "", Reason: "unparseable replacement parameter: " + e.Msg})
	}
	for _, n := range tpl.Nodes {
		switch n := n.(type) {
		case *Text:
			out.WriteString(n.Value)
		case *Param:
			slug, iss := paramSlug(n, ctx, anchorEntity)
			out.WriteString(slug)
			issues = append(issues, iss...)
		case *Handler:
			if n.Name == "Multiline" {
				// The workspace keeps line breaks in text fields as they are,
				// so only the parameters inside need translating.
				inner := TranslateParams(n.Body, ctx, anchorEntity)
				out.WriteString(inner.Text)
				for _, i := range inner.Issues {
					i.Pos = n.From // positions inside the body are relative to it; point at the handler
					issues = append(issues, i)
				}
				continue
			}
			out.WriteString(s[n.From.Offset:n.To.Offset])
			issues = append(issues, SlugIssue{Kind: SlugUnsupported, Param: clip(s[n.From.Offset:n.To.Offset]), Pos: n.From,
				Reason: "$Expression evaluates JavaScript at run time; slugs cannot compute values (use a Power Automate flow or JavaScript)"})
		}
	}
	return SlugTranslation{Text: out.String(), Issues: issues}
}

func wrap(ctx SlugContext, name string) string {
	if ctx == SlugMacro {
		return "${" + name + "}"
	}
	return "{" + name + "}"
}

func paramSlug(p *Param, ctx SlugContext, anchor string) (string, []SlugIssue) {
	var issues []SlugIssue
	issue := func(kind SlugIssueKind, format string, args ...any) {
		issues = append(issues, SlugIssue{Kind: kind, Param: p.Raw, Pos: p.From, Reason: fmt.Sprintf(format, args...)})
	}
	unsupported := func(format string, args ...any) (string, []SlugIssue) {
		issue(SlugUnsupported, format, args...)
		return p.Raw, issues
	}
	for _, m := range p.Modifiers {
		switch m {
		case 'u':
			issue(SlugApproximate, "modifier u (URL-encode) has no slug equivalent; values with spaces or & break the URL")
		case 'x':
			issue(SlugApproximate, "modifier x (XML-encode) has no slug equivalent")
		case 'g', 'a':
			return unsupported("modifier %c reads another session's context; workspace slugs only see the current session", m)
		case 'v':
			return unsupported("modifier v (expand nested parameters) has no slug equivalent")
		}
	}
	src, key := p.Source, p.Key
	if p.SystemGroup() {
		group := strings.ToLower(src)
		switch group {
		case "$context":
			if ctx == SlugMacro && key != "" && !strings.Contains(key, ".") {
				issue(SlugApproximate, "$Context.%s becomes the session context variable $session.%s, which a macro must set (USD set it with CopyToContext or a search)", key, key)
				return wrap(ctx, "$session."+key), issues
			}
			return unsupported("$Context values have no slug in templates; set a session context variable from a macro and read it in scripts instead")
		case "$return":
			return unsupported("replacement parameter $Return has no slug equivalent: action call results are not exposed to templates or script text")
		case "$session":
			return unsupported("replacement parameter $Session has no slug equivalent")
		case "$user":
			return unsupported("replacement parameter $User has no slug equivalent (use an OData slug on systemuser with the current user id in a macro)")
		default:
			return unsupported("replacement parameter %s has no slug equivalent", src)
		}
	}
	switch {
	case src == "script":
		return unsupported("[[script.%s]] runs a USD scriptlet; slugs cannot run code (rewrite as JavaScript, Power Fx or a flow)", key)
	case key == "":
		return unsupported("%s is a USD value without an entity; no slug equivalent", p.Raw)
	case src != strings.ToLower(src):
		return unsupported("%s reads the record shown in the %q tab; slugs only read the session's anchor record", p.Raw, src)
	}
	attr, sub, hasSub := strings.Cut(key, ".")
	if src == anchor && anchor != "" {
		switch {
		case !hasSub && strings.EqualFold(attr, "id"):
			return wrap(ctx, "anchor."+primaryKeyOf(src)), issues
		case !hasSub:
			return wrap(ctx, "anchor."+attr), issues
		case strings.EqualFold(sub, "id"):
			return wrap(ctx, "anchor._"+attr+"_value"), issues
		case strings.EqualFold(sub, "name"):
			return wrap(ctx, "anchor._"+attr+"_value@OData.Community.Display.V1.FormattedValue"), issues
		}
		return unsupported("%s reads column %s of a related record; slugs only read the anchor record's own columns", p.Raw, sub)
	}
	// The customer of a case session stands in for the last loaded contact
	// or account, which in USD was almost always that customer.
	if anchor == "incident" && (src == "contact" || src == "account") && !hasSub {
		switch {
		case strings.EqualFold(attr, "id") && ctx == SlugTemplate:
			issue(SlugApproximate, "%s becomes the case customer's id", p.Raw)
			return wrap(ctx, "customerRecordId"), issues
		case strings.EqualFold(attr, "id"):
			issue(SlugApproximate, "%s becomes the case customer's id", p.Raw)
			return wrap(ctx, "anchor._customerid_value"), issues
		case (src == "contact" && attr == "fullname") || (src == "account" && attr == "name"):
			issue(SlugApproximate, "%s becomes the case customer's name", p.Raw)
			if ctx == SlugTemplate {
				return wrap(ctx, "customerName"), issues
			}
			return wrap(ctx, "anchor._customerid_value@OData.Community.Display.V1.FormattedValue"), issues
		}
	}
	if anchor == "" {
		return unsupported("%s reads a %s record, but no session is anchored on %s; slugs only read the session's anchor record", p.Raw, src, src)
	}
	return unsupported("%s reads the last loaded %s record; slugs only read the session's anchor record (%s)", p.Raw, src, anchor)
}
