package assess

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/dvsync/dvsync/usd"
)

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// Everything a report prints from the export (names, data, reasons that
// quote it) is data, never markup: an export is mailed by a customer and
// may hold anything. JSON is data by construction; Markdown, HTML and CSV
// escape below.

// WriteJSON writes the report as indented JSON; maps are written with
// sorted keys, so equal reports give identical bytes.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// mdEscape makes text from the export inert in a GitHub-flavoured
// Markdown table cell: line breaks become spaces, and the punctuation
// that starts markup anywhere in a line is backslash-escaped (CommonMark
// 0.31 §2.4 allows it for any ASCII punctuation): < and > (inline HTML,
// autolinks), & (entities), [ and ] (links, images), ` (code), * and _
// (emphasis), ~ (strikethrough), | (table cells), $ (GitHub math) and the
// backslash itself; <script>, [links](…) and pipes are shown as typed.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\r', '\n', '\u2028', '\u2029':
			b.WriteByte(' ')
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func hours(h float64) string { return fmt.Sprintf("%.2f", h) }

func share(n, of int) string {
	if of == 0 {
		return "0%"
	}
	return fmt.Sprintf("%.0f%%", math.Round(float64(n)*100/float64(of)))
}

// WriteMarkdown writes the report as GitHub-flavoured Markdown.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Unified Service Desk → Copilot Service workspace assessment\n\n")
	fmt.Fprintf(&b, "- Source: %s\n", mdEscape(r.Source))
	if r.Configuration != "" {
		fmt.Fprintf(&b, "- Configuration: %s\n", mdEscape(r.Configuration))
	} else {
		b.WriteString("- Configuration: all components in the export\n")
	}
	fmt.Fprintf(&b, "- Components: %d, estimated effort %s h\n", r.Totals.Total.Count, hours(r.Totals.Total.Hours))
	fmt.Fprintf(&b, "- Automatic share: %.1f%% of the %d components that have a workspace counterpart (%d without an equivalent are left out)\n\n",
		r.Totals.AutomaticShare, r.Totals.Total.Count-r.Totals.ByVerdict[NoEquivalent].Count, r.Totals.ByVerdict[NoEquivalent].Count)
	b.WriteString("## Summary\n\n| Verdict | Components | Hours |\n|---|---:|---:|\n")
	for _, v := range Verdicts {
		t := r.Totals.ByVerdict[v]
		fmt.Fprintf(&b, "| %s | %d | %s |\n", v.Label(), t.Count, hours(t.Hours))
	}
	b.WriteString("\n## By component type\n\n| Type | Automatic | Partial | Manual | No equivalent | Hours |\n|---|---:|---:|---:|---:|---:|\n")
	for _, k := range r.Totals.ByKind {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s |\n", k.Label, k.ByVerdict[Automatic].Count, k.ByVerdict[Partial].Count,
			k.ByVerdict[Manual].Count, k.ByVerdict[NoEquivalent].Count, hours(k.Total.Hours))
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(&b, "\n## Problems in the export (%d)\n\n", len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "- **%s** %s\n", p.Severity, mdEscape(p.String()))
		}
	}
	var kind usd.Kind
	for _, it := range r.Items {
		if it.Kind != kind {
			kind = it.Kind
			fmt.Fprintf(&b, "\n## %s\n\n| Name | Detail | Target | Verdict | Hours | Reasons |\n|---|---|---|---|---:|---|\n", kind.Label())
		}
		reasons := mdEscape(strings.Join(it.Reasons, "; "))
		if len(it.Evidence) > 0 {
			reasons += "<br>**Evidence:** " + mdEscape(strings.Join(it.Evidence, "; "))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdEscape(it.Name), mdEscape(it.Detail), mdEscape(it.Target), it.Verdict.Label(),
			hours(it.Hours), reasons)
	}
	b.WriteString("\n_" + mdEscape(r.EffortModel) + "_\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// csvCell neutralises a cell a spreadsheet would run as a formula (OWASP
// "CSV Injection": a leading =, +, -, @, tab or carriage return) by
// prefixing an apostrophe, which spreadsheets show as text.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// WriteCSV writes one row per component, for spreadsheets.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"kind", "id", "name", "detail", "target", "verdict", "hours", "reasons", "evidence"}); err != nil {
		return err
	}
	for _, it := range r.Items {
		row := []string{string(it.Kind), it.ID, it.Name, it.Detail, it.Target, it.Verdict.Label(), hours(it.Hours),
			strings.Join(it.Reasons, "; "), strings.Join(it.Evidence, "; ")}
		for i := range row {
			row[i] = csvCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// bar is one segment of a stacked bar in the HTML charts.
type bar struct {
	X, Width float64
	Class    string
	Label    string
}

type chartRow struct {
	Label string
	Y     int
	Bars  []bar
	Total string
}

func stacked(counts []int, scale float64) []bar {
	var out []bar
	x := 0.0
	for i, v := range Verdicts {
		if counts[i] == 0 {
			continue
		}
		w := float64(counts[i]) * scale
		out = append(out, bar{X: x, Width: w, Class: string(v), Label: fmt.Sprintf("%s: %d", v.Label(), counts[i])})
		x += w
	}
	return out
}

type card struct {
	Verdict Verdict
	Label   string
	Count   int
	Hours   string
	Share   string
	Note    string
}

type htmlData struct {
	R         *Report
	Cards     []card
	Summary   []bar
	KindRows  []chartRow
	KindH     int
	Verdicts  []Verdict
	Kinds     []KindTotals
	HoursFmt  func(float64) string
	Problems  []usd.Problem
	Errors    int
	Warnings  int
	KindLabel func(usd.Kind) string
}

var verdictNotes = map[Verdict]string{
	Automatic:    "dvsync writes it, or the workspace provides it",
	Partial:      "dvsync writes it; a person finishes it",
	Manual:       "a person re-implements it",
	NoEquivalent: "no workspace concept; nothing to write",
}

// WriteHTML writes a self-contained HTML page: inline CSS, SVG charts and a
// small script that filters the component table; no external assets, so
// the file can be mailed or opened offline. html/template escapes every
// value by context.
func (r *Report) WriteHTML(w io.Writer) error {
	const width = 640.0
	d := htmlData{R: r, Verdicts: Verdicts, Kinds: r.Totals.ByKind, HoursFmt: hours, Problems: r.Problems,
		KindLabel: func(k usd.Kind) string { return k.Label() }}
	for _, p := range r.Problems {
		if p.Severity == usd.SeverityError {
			d.Errors++
		} else {
			d.Warnings++
		}
	}
	total := r.Totals.Total.Count
	counts := make([]int, len(Verdicts))
	for i, v := range Verdicts {
		t := r.Totals.ByVerdict[v]
		counts[i] = t.Count
		d.Cards = append(d.Cards, card{Verdict: v, Label: v.Label(), Count: t.Count, Hours: hours(t.Hours), Share: share(t.Count, total), Note: verdictNotes[v]})
	}
	if total > 0 {
		d.Summary = stacked(counts, width/float64(total))
	}
	maxKind := 0
	for _, k := range r.Totals.ByKind {
		maxKind = max(maxKind, k.Total.Count)
	}
	for i, k := range r.Totals.ByKind {
		c := make([]int, len(Verdicts))
		for j, v := range Verdicts {
			c[j] = k.ByVerdict[v].Count
		}
		d.KindRows = append(d.KindRows, chartRow{Label: k.Label, Y: i * 26, Bars: stacked(c, 520/float64(max(maxKind, 1))),
			Total: fmt.Sprintf("%d · %s h", k.Total.Count, hours(k.Total.Hours))})
	}
	d.KindH = len(d.KindRows)*26 + 4
	return htmlTemplate.Execute(w, d)
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"label": func(v Verdict) string { return v.Label() },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>USD assessment – {{.R.Source}}</title>
<style>
:root{--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--auto:#1a7f37;--part:#bf8700;--man:#cf222e;--none:#8c959f;--accent:#0969da}
*{box-sizing:border-box}
body{font-family:"Segoe UI",system-ui,-apple-system,Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;color:var(--ink);background:#fff;line-height:1.45}
header{background:linear-gradient(135deg,#0b3d91,#0969da);color:#fff;padding:1.6rem 2.5rem 1.4rem}
header h1{font-size:1.45rem;margin:0 0 .35rem;font-weight:600}
header .meta{opacity:.92;font-size:.92rem}
header .meta span{margin-right:1.4rem;white-space:nowrap}
main{padding:1.5rem 2.5rem 3rem;max-width:1280px}
h2{font-size:1.1rem;margin:2rem 0 .8rem;padding-bottom:.35rem;border-bottom:1px solid var(--line)}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:1rem;margin-top:.4rem}
.card{border:1px solid var(--line);border-radius:10px;padding:.9rem 1rem;border-top:5px solid var(--none);background:#fff}
.card.automatic{border-top-color:var(--auto)}.card.partial{border-top-color:var(--part)}.card.manual{border-top-color:var(--man)}
.card .n{font-size:1.9rem;font-weight:650}.card .l{font-weight:600;text-transform:capitalize}
.card .sub{color:var(--muted);font-size:.84rem}
.kpis{display:flex;gap:2.5rem;margin:1.2rem 0 .4rem;flex-wrap:wrap}
.kpi .v{font-size:1.35rem;font-weight:650}.kpi .k{color:var(--muted);font-size:.84rem}
svg text{font-size:12px;fill:var(--ink)}
rect.automatic{fill:var(--auto)}rect.partial{fill:var(--part)}rect.manual{fill:var(--man)}rect.noEquivalent{fill:var(--none)}
.legend{display:flex;gap:1.2rem;font-size:.85rem;color:var(--muted);margin:.4rem 0}
.legend i{display:inline-block;width:.75rem;height:.75rem;border-radius:2px;margin-right:.35rem;vertical-align:-1px}
i.automatic{background:var(--auto)}i.partial{background:var(--part)}i.manual{background:var(--man)}i.noEquivalent{background:var(--none)}
table{border-collapse:collapse;width:100%;font-size:.86rem}
th,td{border-bottom:1px solid var(--line);padding:.45rem .55rem;text-align:left;vertical-align:top}
th{background:var(--bg);position:sticky;top:0;font-weight:600;z-index:1}
#items{table-layout:fixed}#items td{overflow-wrap:anywhere}
tbody tr:hover{background:#f6f8fa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.08rem .5rem;border-radius:999px;font-size:.78rem;font-weight:600;color:#fff;white-space:nowrap}
.badge.automatic{background:var(--auto)}.badge.partial{background:var(--part)}.badge.manual{background:var(--man)}.badge.noEquivalent{background:var(--none)}
.badge.error{background:var(--man)}.badge.warning{background:var(--part)}
.reasons{white-space:pre-line;color:#33393f}
.evidence{margin-top:.35rem;color:var(--muted);font-size:.8rem;white-space:pre-line;border-left:3px solid var(--line);padding-left:.5rem}
.filters{display:flex;gap:1.1rem;flex-wrap:wrap;align-items:center;margin:.6rem 0 1rem;padding:.7rem .9rem;background:var(--bg);border:1px solid var(--line);border-radius:8px;font-size:.88rem}
.filters input[type=search]{padding:.3rem .5rem;border:1px solid var(--line);border-radius:6px;min-width:16rem}
.filters select{padding:.25rem .4rem;border:1px solid var(--line);border-radius:6px}
#shown{color:var(--muted);margin-left:auto}
.problems{list-style:none;padding:0;margin:0}
.problems li{padding:.35rem 0;border-bottom:1px dashed var(--line);font-size:.88rem}
.note{color:var(--muted);font-size:.84rem}
.alert{border:1px solid var(--man);background:#ffebe9;border-radius:8px;padding:.7rem 1rem;margin-top:1rem}
@media print{header{background:#0b3d91;-webkit-print-color-adjust:exact;print-color-adjust:exact}.filters{display:none}th{position:static}}
</style>
</head>
<body>
<header>
<h1>Unified Service Desk → Copilot Service workspace assessment</h1>
<div class="meta"><span>Source: <strong>{{.R.Source}}</strong></span><span>Configuration: <strong>{{if .R.Configuration}}{{.R.Configuration}}{{else}}all components in the export{{end}}</strong></span><span>{{.R.Totals.Total.Count}} components</span><span>estimated effort {{call .HoursFmt .R.Totals.Total.Hours}} h</span></div>
</header>
<main>
{{if .Errors}}<div class="alert"><strong>The export has {{.Errors}} error(s).</strong> What could be read is assessed below; see “Problems in the export”.</div>{{end}}
<h2>Summary</h2>
<div class="cards">{{range .Cards}}<div class="card {{.Verdict}}"><div class="l">{{.Label}}</div><div class="n">{{.Count}}</div><div class="sub">{{.Share}} of components · {{.Hours}} h</div><div class="sub">{{.Note}}</div></div>{{end}}</div>
<div class="kpis">
<div class="kpi"><div class="v">{{printf "%.1f" .R.Totals.AutomaticShare}}%</div><div class="k">automatic share, of components with a workspace counterpart</div></div>
<div class="kpi"><div class="v">{{call .HoursFmt .R.Totals.Total.Hours}} h</div><div class="k">estimated effort</div></div>
<div class="kpi"><div class="v">{{.Errors}} / {{.Warnings}}</div><div class="k">errors / warnings in the export</div></div>
</div>
<div class="legend">{{range .Verdicts}}<span><i class="{{.}}"></i>{{label .}}</span>{{end}}</div>
{{if .Summary}}<svg role="img" aria-label="verdicts of all components" width="760" height="30" viewBox="0 0 760 30">
<g transform="translate(0,3)">{{range .Summary}}<rect class="{{.Class}}" x="{{.X}}" y="0" width="{{.Width}}" height="24" rx="2"><title>{{.Label}}</title></rect>{{end}}
<text x="652" y="17">{{.R.Totals.Total.Count}} components</text></g></svg>{{end}}

<h2>By component type</h2>
<svg role="img" aria-label="verdicts per component type" width="900" height="{{.KindH}}" viewBox="0 0 900 {{.KindH}}">
{{range .KindRows}}<g transform="translate(0,{{.Y}})"><text x="0" y="16">{{.Label}}</text>
<g transform="translate(190,3)">{{range .Bars}}<rect class="{{.Class}}" x="{{.X}}" y="0" width="{{.Width}}" height="19" rx="2"><title>{{.Label}}</title></rect>{{end}}</g>
<text x="722" y="16">{{.Total}}</text></g>
{{end}}</svg>
<table style="width:auto;min-width:60%;margin-top:.8rem"><thead><tr><th>Type</th>{{range .Verdicts}}<th class="num">{{label .}}</th>{{end}}<th class="num">Hours</th></tr></thead><tbody>
{{range $k := .Kinds}}<tr><td>{{$k.Label}}</td>{{range $v := $.Verdicts}}<td class="num">{{(index $k.ByVerdict $v).Count}}</td>{{end}}<td class="num">{{call $.HoursFmt $k.Total.Hours}}</td></tr>
{{end}}</tbody></table>

{{if .Problems}}<h2>Problems in the export ({{len .Problems}})</h2>
<ul class="problems">{{range .Problems}}<li><span class="badge {{.Severity}}">{{.Severity}}</span> {{.String}}</li>{{end}}</ul>{{end}}

<h2>Components</h2>
<div class="filters">
<label>Search <input id="q" type="search" placeholder="name, target, reason"></label>
<label>Type <select id="kind"><option value="">all</option>{{range .Kinds}}<option value="{{.Kind}}">{{.Label}}</option>{{end}}</select></label>
{{range .Verdicts}}<label><input type="checkbox" class="verdict" value="{{.}}" checked> {{label .}}</label>{{end}}
<span id="shown"></span>
</div>
<table id="items"><colgroup><col style="width:8%"><col style="width:13%"><col style="width:11%"><col style="width:15%"><col style="width:9%"><col style="width:5%"><col style="width:39%"></colgroup>
<thead><tr><th>Type</th><th>Name</th><th>Detail</th><th>Target</th><th>Verdict</th><th class="num">Hours</th><th>Reasons</th></tr></thead>
<tbody>
{{range .R.Items}}<tr data-kind="{{.Kind}}" data-verdict="{{.Verdict}}"><td>{{call $.KindLabel .Kind}}</td><td>{{.Name}}</td><td>{{.Detail}}</td><td>{{.Target}}</td><td><span class="badge {{.Verdict}}">{{label .Verdict}}</span></td><td class="num">{{call $.HoursFmt .Hours}}</td><td><div class="reasons">{{range $i, $r := .Reasons}}{{if $i}}
{{end}}{{$r}}{{end}}</div>{{if .Evidence}}<div class="evidence">{{range $i, $e := .Evidence}}{{if $i}}
{{end}}{{$e}}{{end}}</div>{{end}}</td></tr>
{{end}}</tbody></table>
<p class="note"><em>{{.R.EffortModel}}</em></p>
<p class="note">Verdict rules and Microsoft's mapping they follow: docs/usd-verdicts.md in the dvsync repository.</p>
</main>
<script>
(function(){
  var q=document.getElementById('q'),kind=document.getElementById('kind'),boxes=document.querySelectorAll('.verdict'),
      rows=document.querySelectorAll('#items tbody tr'),shown=document.getElementById('shown');
  function apply(){
    var text=q.value.toLowerCase(),k=kind.value,allowed={};
    boxes.forEach(function(b){allowed[b.value]=b.checked;});
    var n=0;
    rows.forEach(function(r){
      var ok=allowed[r.dataset.verdict]&&(!k||r.dataset.kind===k)&&(!text||r.textContent.toLowerCase().indexOf(text)>=0);
      r.style.display=ok?'':'none'; if(ok)n++;
    });
    shown.textContent=n+' of '+rows.length+' shown';
  }
  q.addEventListener('input',apply);kind.addEventListener('change',apply);
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  apply();
})();
</script>
</body>
</html>
`))
