package usd

import (
	"strings"
	"testing"
)

func TestParseParams(t *testing.T) {
	tests := []struct {
		in       string
		params   []string // Source|Key|Modifiers
		handlers []string
		errs     []string
	}{
		{in: "plain text"},
		{in: "[[incident.title]]", params: []string{"incident|title|"}},
		{in: "q=[[account.name]u+]&x=1", params: []string{"account|name|u+"}},
		{in: "[[$Context.InitialEntity]]", params: []string{"$Context|InitialEntity|"}},
		{in: "[[$Return.Order Portal - Find Last Order]u]", params: []string{"$Return|Order Portal - Find Last Order|u"}},
		{in: "[[url]]", params: []string{"url||"}},
		{in: "[[script.CaseAge]$]", params: []string{"script|CaseAge|$"}},
		{in: "[[incident.customerid.Id]]", params: []string{"incident|customerid.Id|"}},
		{in: "[[$Context.[[account.name]]]v]", params: []string{"$Context|[[account.name]]|v", "account|name|"}},
		{in: "due=$Expression(new Date(\"[[incident.createdon]]\").getTime() + (2*3600))", params: []string{"incident|createdon|"}, handlers: []string{"Expression"}},
		{in: "$Multiline([[incident.description]$])", params: []string{"incident|description|$"}, handlers: []string{"Multiline"}},
		{in: "$Expression(\")\" + 1)", handlers: []string{"Expression"}},
		{in: "a [[incident.title", errs: []string{"1:3: unterminated"}},
		{in: "[[incident.title]q]", errs: []string{"1:18: unknown replacement key \"q\""}},
		{in: "[[]]", errs: []string{"empty replacement parameter"}},
		{in: "line1\r\nx [[$Sesion.id]]", params: []string{"$Sesion|id|"}, errs: []string{"2:3: unknown system parameter group $Sesion"}},
		{in: "$Expression(1 + (2)", errs: []string{"1:1: $Expression( has no matching )"}},
		{in: "[[incident.title]] and [[bad]x", params: []string{"incident|title|"}, errs: []string{"1:24: unterminated"}},
	}
	for _, tt := range tests {
		tpl, errs := ParseParams(tt.in)
		var got []string
		for _, p := range tpl.Params() {
			got = append(got, p.Source+"|"+p.Key+"|"+p.Modifiers)
		}
		if strings.Join(got, ",") != strings.Join(tt.params, ",") {
			t.Errorf("%q: params = %v, want %v", tt.in, got, tt.params)
		}
		var hs []string
		for _, h := range tpl.Handlers() {
			hs = append(hs, h.Name)
		}
		if strings.Join(hs, ",") != strings.Join(tt.handlers, ",") {
			t.Errorf("%q: handlers = %v, want %v", tt.in, hs, tt.handlers)
		}
		if len(errs) != len(tt.errs) {
			t.Errorf("%q: errors = %v, want %v", tt.in, errs, tt.errs)
			continue
		}
		for i, e := range errs {
			if !strings.Contains(e.Error(), tt.errs[i]) {
				t.Errorf("%q: error %q, want it to contain %q", tt.in, e, tt.errs[i])
			}
		}
		// Text nodes and parameters together reproduce the input.
		var b strings.Builder
		for _, n := range tpl.Nodes {
			b.WriteString(tt.in[n.Start().Offset:n.End().Offset])
		}
		if b.String() != tt.in {
			t.Errorf("%q: nodes cover %q", tt.in, b.String())
		}
	}
}

func TestParamPositions(t *testing.T) {
	tpl, _ := ParseParams("a\nbc [[x.y]+] d")
	p := tpl.Params()[0]
	if p.From != (Pos{Offset: 5, Line: 2, Column: 4}) || p.To.Offset != 13 || p.Raw != "[[x.y]+]" {
		t.Errorf("param = %+v", p)
	}
}

func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"[[a.b]]", "$Expression(([[x]]))", "[[[[a]]]v]", "[[a.b]+u", "$Multiline("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, _ := ParseParams(s)
		var b strings.Builder
		for _, n := range tpl.Nodes {
			if n.Start().Offset > n.End().Offset || n.End().Offset > len(s) {
				t.Fatalf("bad span %v-%v", n.Start(), n.End())
			}
			b.WriteString(s[n.Start().Offset:n.End().Offset])
		}
		if b.String() != s {
			t.Fatalf("nodes cover %q, not %q", b.String(), s)
		}
	})
}
