package workspace

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/dvsync/dvsync/usd"
)

// Notification template values (dataverse/schema/catalog_usd.go for sources).
const (
	// desktopNotificationNever: USD popups only ever showed inside the USD
	// client, and Never is the column's default
	// (learn.microsoft.com/dynamics365/customer-service/administer/notification-templates).
	desktopNotificationNever = 509180000
	// notificationTimeoutDefault is the admin centre's default countdown
	// for a new template (same page, "Countdown (seconds)").
	notificationTimeoutDefault = 120
	// notificationTimeoutMax is msdyn_timeout's MaxValue ([DK-CSW]).
	notificationTimeoutMax = 500
	// The admin centre's default button labels (same page).
	acceptTextDefault = "Accept"
	rejectTextDefault = "Reject"
)

// showParams are the documented parameters of the Popup Notification
// control's Show action; any other line of its data is a value passed to
// the form, which reads it as [[name]]
// (learn.microsoft.com/dynamics365/unified-service-desk/popup-notification-hosted-control,
// .../configure-notifications-unified-service-desk "Consume event parameters").
var showParams = map[string]bool{"formname": true, "placementmode": true, "left": true, "top": true,
	"timeout": true, "stack": true, "stackheight": true}

// notificationTemplates writes a notification template, with its fields,
// for each Popup Notification control. The popup's content lives in a USD
// form (XAML) that the control's Show action call names; its countdown in
// the Show data; its OK and Cancel buttons in the XAML. Nothing here wires
// the template to a channel or workstream: in the workspace a notification
// is shown by routing, not by an action call.
func (t *translator) notificationTemplates() {
	for _, hc := range t.m.HostedControls {
		if hc.ComponentType == usd.PopupNotification {
			t.notificationTemplate(hc)
		}
	}
}

type popupField struct {
	header, value string
}

func (t *translator) notificationTemplate(hc *usd.HostedControl) {
	s := src(usd.KindHostedControl, hc.ID, hc.Name)
	var shows []*usd.ActionCall
	for _, ac := range t.m.ActionCallsOf(hc.ID) {
		if strings.EqualFold(t.m.ActionName(ac.ActionID), "show") {
			shows = append(shows, ac)
		}
	}
	sort.SliceStable(shows, func(i, j int) bool {
		if shows[i].Order != shows[j].Order {
			return shows[i].Order < shows[j].Order
		}
		return shows[i].Name < shows[j].Name
	})

	unique := t.n.name("msdyn_notificationtemplate", hc.ID, "notification", hc.Name)
	fields := map[string]any{
		"msdyn_name":                    truncate(hc.Name, 100),
		"msdyn_autoacceptnotification":  false,
		"msdyn_desktopnotificationmode": desktopNotificationNever,
		"msdyn_acceptbuttontext":        acceptTextDefault,
	}
	rec := t.record("msdyn_notificationtemplate", unique, s, fields)

	var show *usd.ActionCall
	var data []usd.DataLine
	custom := map[string]string{} // lower-case name → value
	var customOrder []usd.DataLine
	formName := ""
	if len(shows) > 0 {
		show = shows[0]
		data = usd.ParseActionData(show.Data)
		formName, _ = usd.DataValue(data, "formname")
		formName = strings.TrimSpace(formName)
		for _, l := range data {
			if l.Name != "" && !showParams[strings.ToLower(l.Name)] {
				custom[strings.ToLower(l.Name)] = l.Value
				customOrder = append(customOrder, l)
			}
		}
		for _, other := range shows[1:] {
			f, _ := usd.DataValue(usd.ParseActionData(other.Data), "formname")
			if strings.TrimSpace(f) != formName {
				t.diag(Warning, src(usd.KindActionCall, other.ID, other.Name), rec,
					"shows form %q; the template follows %q (action call %q): create another notification template for this form by hand", f, formName, show.Name)
			}
		}
	}

	// Title: a title passed in the Show data, else the control's display name.
	title, fromData := custom["title"]
	if !fromData {
		if title = hc.DisplayName; title == "" {
			title = hc.Name
		}
	}
	titleTr := notificationText(title)
	fields["msdyn_title"] = truncate(titleTr.Text, 100)
	t.slugDiags(s, rec, "title", titleTr)

	fields["msdyn_timeout"] = t.notificationTimeout(s, rec, show, data)

	var items []popupField
	form, why := t.popupForm(formName, show)
	switch {
	case show == nil:
		t.diag(Warning, s, rec, "no Show action call: the popup's form and fields cannot be recovered; add notification fields by hand")
	case form == nil:
		t.diag(Warning, s, rec, "%s; fields come from the Show action call's data", why)
	}
	if form != nil {
		fields["msdyn_showtimeout"] = form.countdown
		if form.accept != "" {
			fields["msdyn_acceptbuttontext"] = truncate(form.accept, 100)
		}
		if form.reject != "" {
			fields["msdyn_showrejectbutton"] = true
			fields["msdyn_rejectbuttontext"] = truncate(form.reject, 100)
		} else {
			fields["msdyn_showrejectbutton"] = false
			t.diag(Info, s, rec, "form %q has no Cancel button; the reject button is hidden", formName)
		}
		for _, b := range form.others {
			t.diag(Info, s, rec, "form button %s; a notification only accepts or rejects: run it from a macro instead", b)
		}
		var static []string
		items, static = form.fields(custom)
		if len(static) > 0 {
			t.diag(Info, s, rec, "static form text not carried over (notifications show a title and fields only): %s", clipList(static))
		}
	} else {
		fields["msdyn_rejectbuttontext"] = rejectTextDefault
		for _, l := range customOrder {
			if !strings.EqualFold(l.Name, "title") { // already the template's title
				items = append(items, popupField{header: l.Name, value: l.Value})
			}
		}
	}
	if show != nil && len(items) == 0 {
		t.diag(Warning, s, rec, "no notification fields recovered: the form shows no replacement parameters and the Show action call passes no data; add fields by hand")
	}
	for i, it := range items {
		tr := notificationText(it.value)
		fu := t.n.name("msdyn_notificationfield", fmt.Sprintf("%s/%02d", hc.ID, i+1), strings.TrimPrefix(unique, t.opt.Prefix), fmt.Sprintf("%02d", i+1))
		f := t.record("msdyn_notificationfield", fu, s, map[string]any{
			"msdyn_name":  truncate(hc.Name+": "+it.header, 100),
			"msdyn_title": truncate(it.header, 200),
			"msdyn_value": truncate(tr.Text, 1028),
			"msdyn_order": i + 1,
		})
		t.slugDiags(s, f, "field "+it.header, tr)
		t.associate("msdyn_notificationtemplate_notificationfield", rec, f)
	}
	for _, ev := range t.m.Events {
		if ev.HostedControlID == hc.ID && len(ev.ActionCalls) > 0 {
			switch strings.ToLower(ev.Name) {
			case "ok", "cancel", "timedout":
				t.diag(Warning, src(usd.KindEvent, ev.ID, ev.Name), rec,
					"USD ran this event's action calls when the popup was answered or timed out; a notification's accept only opens the routed work item, so run its macro from the session or form by hand")
			}
		}
	}
	fields["msdyn_description"] = truncate(fmt.Sprintf("Migrated from USD popup notification %q by dvsync.", hc.Name), 2000)
	t.diag(Info, s, rec, "select this template in the notification settings of the workstream or channel that should show it; USD showed the popup from an action call, the workspace shows notifications when work is routed")
}

// notificationTimeout reads the Show action's timeout. USD keeps a popup
// without a valid timeout open until it is closed; a workspace
// notification always counts down, so those get the admin centre default.
func (t *translator) notificationTimeout(s Source, rec *Record, show *usd.ActionCall, data []usd.DataLine) int {
	if show == nil {
		return notificationTimeoutDefault
	}
	raw, ok := usd.DataValue(data, "timeout")
	if !ok {
		t.diag(Info, s, rec, "the USD popup had no timeout and stayed until closed; notifications always count down, so the countdown is %d s (the admin centre default)", notificationTimeoutDefault)
		return notificationTimeoutDefault
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	switch {
	case err != nil || n <= 0:
		t.diag(Warning, s, rec, "timeout %q is not a positive whole number of seconds (USD then keeps the popup open); the countdown is %d s (the admin centre default)", raw, notificationTimeoutDefault)
		return notificationTimeoutDefault
	case n > notificationTimeoutMax:
		t.diag(Warning, s, rec, "timeout %d s is above the %d s a notification template allows; the countdown is %d s", n, notificationTimeoutMax, notificationTimeoutMax)
		return notificationTimeoutMax
	}
	return n
}

// popupForm finds and reads the form a Show action call names. It returns
// nil and the reason when there is nothing to read.
func (t *translator) popupForm(name string, show *usd.ActionCall) (*xamlForm, string) {
	if show == nil {
		return nil, ""
	}
	if name == "" {
		return nil, fmt.Sprintf("action call %q names no form (formname)", show.Name)
	}
	var form *usd.Form
	for _, f := range t.m.Forms {
		if f.Name == name {
			form = f
			break
		}
	}
	if form == nil {
		return nil, fmt.Sprintf("form %q named by action call %q is not in the export", name, show.Name)
	}
	if strings.TrimSpace(form.Markup) == "" {
		return nil, fmt.Sprintf("form %q has no markup", name)
	}
	x, err := parseXAML(form.Markup)
	if err != nil {
		return nil, fmt.Sprintf("form %q markup is not well-formed XAML (%v)", name, err)
	}
	return x, ""
}

func clipList(ss []string) string {
	var out []string
	for _, s := range ss {
		if r := []rune(s); len(r) > 60 {
			s = string(r[:59]) + "…"
		}
		out = append(out, fmt.Sprintf("%q", s))
	}
	return strings.Join(out, ", ")
}

// ---- XAML forms ----------------------------------------------------------------

// xamlForm is what a notification template can use of a USD form: its
// texts in document order, the labels of the buttons that raise the
// control's Ok and Cancel events, and whether it shows the countdown.
// Command bindings and TimeoutProperty:
// learn.microsoft.com/dynamics365/unified-service-desk/configure-notifications-unified-service-desk.
type xamlForm struct {
	texts          []string
	accept, reject string
	countdown      bool
	others         []string // other command buttons, described
}

// textAttrs are the attributes that hold visible text in WPF elements.
var textAttrs = []string{"Text", "Content", "Header"}

func parseXAML(markup string) (*xamlForm, error) {
	type frame struct {
		property bool // a property element such as <Grid.Resources>
		command  string
		param    string
		label    strings.Builder
	}
	x := &xamlForm{}
	var stack []*frame
	inside := func(pred func(*frame) bool) *frame {
		for i := len(stack) - 1; i >= 0; i-- {
			if pred(stack[i]) {
				return stack[i]
			}
		}
		return nil
	}
	text := func(v string) {
		v = strings.TrimSpace(v)
		if v == "" {
			return
		}
		if strings.HasPrefix(v, "{") && !strings.HasPrefix(v, "{}") {
			// A markup extension ({Binding ...}, {StaticResource ...}), not text.
			if strings.Contains(v, "TimeoutProperty") {
				x.countdown = true
			}
			return
		}
		x.texts = append(x.texts, strings.TrimPrefix(v, "{}"))
	}
	dec := xml.NewDecoder(strings.NewReader(markup))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			f := &frame{property: strings.Contains(tok.Name.Local, ".")}
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Name.Local] = a.Value
			}
			f.command, f.param = attrs["Command"], attrs["CommandParameter"]
			hidden := f.property || inside(func(p *frame) bool { return p.property }) != nil
			// Text inside a command element is the button's label.
			button := f
			if f.command == "" {
				button = inside(func(p *frame) bool { return p.command != "" })
			}
			for _, name := range textAttrs {
				v, ok := attrs[name]
				switch {
				case !ok || hidden:
				case button != nil:
					if v = strings.TrimSpace(v); !strings.HasPrefix(v, "{") {
						button.label.WriteString(v)
					}
				default:
					text(v)
				}
			}
			stack = append(stack, f)
		case xml.CharData:
			if inside(func(p *frame) bool { return p.property }) != nil {
				continue
			}
			if b := inside(func(p *frame) bool { return p.command != "" }); b != nil {
				b.label.WriteString(strings.TrimSpace(string(tok)))
				continue
			}
			text(string(tok))
		case xml.EndElement:
			if len(stack) == 0 {
				continue
			}
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.command != "" {
				x.button(f.command, f.param, strings.TrimSpace(f.label.String()))
			}
		}
	}
	return x, nil
}

func (x *xamlForm) button(command, param, label string) {
	_, cmd, _ := strings.Cut(command, ":") // CCA:ActionCommands.UIIEvent
	if cmd == "" {
		cmd = command
	}
	switch {
	case strings.EqualFold(cmd, "ActionCommands.UIIEvent"):
		event, _, _ := strings.Cut(strings.TrimSpace(param), "?")
		switch {
		case strings.EqualFold(event, "Ok"):
			x.accept = orDefault(label, acceptTextDefault)
		case strings.EqualFold(event, "Cancel"):
			x.reject = orDefault(label, rejectTextDefault)
		default:
			x.others = append(x.others, fmt.Sprintf("%q raises event %q", label, event))
		}
	default:
		x.others = append(x.others, fmt.Sprintf("%q runs %s", label, param))
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// fields turns the form's texts into notification fields. A text with
// replacement parameters is a field: its header is the text before the
// first parameter ("Caller: [[x]]"), else the label just before it (a
// separate TextBlock "Caller:"), else the parameter's name. Parameters
// naming a value of the Show data ([[caller]]) are replaced by that value,
// which is what USD showed. Texts without parameters that are no field's
// label are returned as static.
func (x *xamlForm) fields(custom map[string]string) (fields []popupField, static []string) {
	pending := ""
	flush := func() {
		if pending != "" {
			static = append(static, pending)
			pending = ""
		}
	}
	for _, txt := range x.texts {
		tpl, _ := usd.ParseParams(txt)
		first := -1
		for i, n := range tpl.Nodes {
			if _, ok := n.(*usd.Text); !ok {
				first = i
				break
			}
		}
		if first < 0 {
			flush()
			pending = txt
			continue
		}
		var prefix strings.Builder
		for _, n := range tpl.Nodes[:first] {
			prefix.WriteString(n.(*usd.Text).Value)
		}
		var value strings.Builder
		paramName := ""
		for _, n := range tpl.Nodes[first:] {
			switch n := n.(type) {
			case *usd.Text:
				value.WriteString(n.Value)
			case *usd.Param:
				if paramName == "" {
					paramName = strings.TrimPrefix(strings.TrimSuffix(n.Source+"."+n.Key, "."), "$")
				}
				if v, ok := custom[strings.ToLower(n.Source)]; ok && n.Key == "" {
					value.WriteString(v)
				} else {
					value.WriteString(n.Raw)
				}
			case *usd.Handler:
				if paramName == "" {
					paramName = n.Name
				}
				value.WriteString(txt[n.From.Offset:n.To.Offset])
			}
		}
		header := headerText(prefix.String())
		if header == "" && pending != "" {
			header = headerText(pending)
			pending = ""
		}
		flush()
		if header == "" {
			header = paramName
		}
		fields = append(fields, popupField{header: header, value: strings.TrimSpace(value.String())})
	}
	flush()
	return fields, static
}

func headerText(s string) string {
	return strings.TrimSpace(strings.TrimRight(strings.TrimSpace(s), ":"))
}

// ---- notification slugs --------------------------------------------------------

// notificationSlugs are the replacement parameters that have a
// notification field slug. Notification fields support only a fixed set
// of slugs ({customerName}, {caseId}, {caseTitle}, {queueId},
// {customerRecordId}, channel values and pre-chat answers), not
// {anchor.<attr>}: learn.microsoft.com/dynamics365/customer-service/administer/notification-templates
// "Slugs for notification field header".
var notificationSlugs = map[string]string{
	"contact.fullname": "customerName", "account.name": "customerName",
	"contact.id": "customerRecordId", "contact.contactid": "customerRecordId",
	"account.id": "customerRecordId", "account.accountid": "customerRecordId",
	"incident.id": "caseId", "incident.incidentid": "caseId", "incident.title": "caseTitle",
	"queue.id": "queueId", "queue.queueid": "queueId",
}

// notificationText rewrites the replacement parameters of s as
// notification slugs. Parameters without one are kept verbatim and
// reported as unsupported, as usd.TranslateParams does.
func notificationText(s string) usd.SlugTranslation {
	tpl, errs := usd.ParseParams(s)
	var out strings.Builder
	var issues []usd.SlugIssue
	for _, e := range errs {
		issues = append(issues, usd.SlugIssue{Kind: usd.SlugUnsupported, Pos: e.Pos, Reason: "unparseable replacement parameter: " + e.Msg})
	}
	for _, n := range tpl.Nodes {
		switch n := n.(type) {
		case *usd.Text:
			out.WriteString(n.Value)
		case *usd.Param:
			slug, iss := notificationSlug(n)
			out.WriteString(slug)
			issues = append(issues, iss...)
		case *usd.Handler:
			raw := s[n.From.Offset:n.To.Offset]
			out.WriteString(raw)
			issues = append(issues, usd.SlugIssue{Kind: usd.SlugUnsupported, Param: raw, Pos: n.From,
				Reason: "$" + n.Name + " has no notification slug equivalent"})
		}
	}
	return usd.SlugTranslation{Text: out.String(), Issues: issues}
}

func notificationSlug(p *usd.Param) (string, []usd.SlugIssue) {
	issue := func(kind usd.SlugIssueKind, format string, args ...any) []usd.SlugIssue {
		return []usd.SlugIssue{{Kind: kind, Param: p.Raw, Pos: p.From, Reason: fmt.Sprintf(format, args...)}}
	}
	if strings.ContainsAny(p.Modifiers, "gav") {
		return p.Raw, issue(usd.SlugUnsupported, "modifiers %q read other sessions or expand nested parameters; no notification slug equivalent", p.Modifiers)
	}
	name, ok := notificationSlugs[p.Source+"."+strings.ToLower(p.Key)]
	if !ok {
		return p.Raw, issue(usd.SlugUnsupported, "no notification slug gives this value (notification fields support {customerName}, {caseId}, {caseTitle}, {queueId}, {customerRecordId} and channel values); kept verbatim")
	}
	slug := "{" + name + "}"
	switch p.Source {
	case "contact", "account":
		return slug, issue(usd.SlugApproximate, "%s becomes %s, the customer of the routed work item (USD read the last loaded %s)", p.Raw, slug, p.Source)
	case "incident":
		return slug, issue(usd.SlugApproximate, "%s becomes %s, filled only when a case is linked to the work item", p.Raw, slug)
	}
	return slug, nil
}
