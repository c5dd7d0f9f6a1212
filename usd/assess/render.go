package assess

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/dvsync/dvsync/usd"
)

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// WriteJSON writes the report as indented JSON; maps are written with
// sorted keys, so equal reports give identical bytes.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r\n", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

func hours(h float64) string { return fmt.Sprintf("%.2f", h) }

// WriteMarkdown writes the report as GitHub-flavoured Markdown.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Unified Service Desk → Copilot Service workspace assessment\n\n")
	fmt.Fprintf(&b, "- Source: `%s`\n", r.Source)
	if r.Configuration != "" {
		fmt.Fprintf(&b, "- Configuration: %s\n", mdEscape(r.Configuration))
	} else {
		b.WriteString("- Configuration: all components in the export\n")
	}
	fmt.Fprintf(&b, "- Components: %d, estimated effort %s h\n\n", r.Totals.Total.Count, hours(r.Totals.Total.Hours))
	b.WriteString("## Summary\n\n| Verdict | Components | Hours |\n|---|---:|---:|\n")
	for _, v := range Verdicts {
		t := r.Totals.ByVerdict[v]
		fmt.Fprintf(&b, "| %s | %d | %s |\n", v, t.Count, hours(t.Hours))
	}
	b.WriteString("\n## By component type\n\n| Type | Automatic | Partial | Manual | Hours |\n|---|---:|---:|---:|---:|\n")
	for _, k := range r.Totals.ByKind {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", k.Label, k.ByVerdict[Automatic].Count, k.ByVerdict[Partial].Count,
			k.ByVerdict[Manual].Count, hours(k.Total.Hours))
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
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mdEscape(it.Name), mdEscape(it.Detail), mdEscape(it.Target), it.Verdict,
			hours(it.Hours), mdEscape(strings.Join(it.Reasons, "; ")))
	}
	b.WriteString("\n_" + r.EffortModel + "_\n")
	_, err := io.WriteString(w, b.String())
	return err
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

func stacked(counts [3]int, scale float64) []bar {
	var out []bar
	x := 0.0
	for i, v := range Verdicts {
		if counts[i] == 0 {
			continue
		}
		w := float64(counts[i]) * scale
		out = append(out, bar{X: x, Width: w, Class: string(v), Label: fmt.Sprintf("%s: %d", v, counts[i])})
		x += w
	}
	return out
}

type htmlData struct {
	R         *Report
	Summary   []chartRow
	KindRows  []chartRow
	KindH     int
	Verdicts  []Verdict
	Kinds     []KindTotals
	HoursFmt  func(float64) string
	Joined    func([]string) string
	Problems  []usd.Problem
	KindLabel func(usd.Kind) string
}

// WriteHTML writes a self-contained HTML page: inline CSS, SVG charts and a
// small script that filters the component table; no external assets, so
// the file can be mailed or opened offline.
func (r *Report) WriteHTML(w io.Writer) error {
	const width = 560.0
	d := htmlData{R: r, Verdicts: Verdicts, Kinds: r.Totals.ByKind, HoursFmt: hours, Problems: r.Problems,
		Joined: func(s []string) string { return strings.Join(s, "\n") }, KindLabel: func(k usd.Kind) string { return k.Label() }}
	total := r.Totals.Total.Count
	if total > 0 {
		var c [3]int
		for i, v := range Verdicts {
			c[i] = r.Totals.ByVerdict[v].Count
		}
		d.Summary = []chartRow{{Label: "All components", Y: 0, Bars: stacked(c, width/float64(total)), Total: fmt.Sprint(total)}}
	}
	maxKind := 0
	for _, k := range r.Totals.ByKind {
		maxKind = max(maxKind, k.Total.Count)
	}
	for i, k := range r.Totals.ByKind {
		var c [3]int
		for j, v := range Verdicts {
			c[j] = k.ByVerdict[v].Count
		}
		d.KindRows = append(d.KindRows, chartRow{Label: k.Label, Y: i * 24, Bars: stacked(c, width/float64(max(maxKind, 1))),
			Total: fmt.Sprintf("%d · %s h", k.Total.Count, hours(k.Total.Hours))})
	}
	d.KindH = len(d.KindRows)*24 + 4
	return htmlTemplate.Execute(w, d)
}

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>USD assessment – {{.R.Source}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1b1b;max-width:1200px}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4;position:sticky;top:0}
td.num,th.num{text-align:right}
.automatic{fill:#2e7d32;color:#2e7d32}.partial{fill:#ef8f00;color:#a65f00}.manual{fill:#c62828;color:#c62828}
.badge{font-weight:600}
.legend span{margin-right:1rem}.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
.legend i.automatic{background:#2e7d32}.legend i.partial{background:#ef8f00}.legend i.manual{background:#c62828}
.filters{display:flex;gap:1rem;flex-wrap:wrap;align-items:center;margin:1rem 0}
.reasons{white-space:pre-line;color:#444}
svg text{font-size:12px;fill:#1b1b1b}
.problems li{margin-bottom:.3rem}
</style>
</head>
<body>
<h1>Unified Service Desk → Copilot Service workspace assessment</h1>
<p>Source: <code>{{.R.Source}}</code> · Configuration: {{if .R.Configuration}}{{.R.Configuration}}{{else}}all components in the export{{end}} ·
{{.R.Totals.Total.Count}} components · estimated effort {{call .HoursFmt .R.Totals.Total.Hours}} h</p>

<h2>Summary</h2>
<div class="legend">{{range .Verdicts}}<span><i class="{{.}}"></i>{{.}}</span>{{end}}</div>
<table style="width:auto"><tr><th>Verdict</th><th class="num">Components</th><th class="num">Hours</th></tr>
{{range $v := .Verdicts}}{{$t := index $.R.Totals.ByVerdict $v}}<tr><td class="badge {{$v}}">{{$v}}</td><td class="num">{{$t.Count}}</td><td class="num">{{call $.HoursFmt $t.Hours}}</td></tr>
{{end}}</table>
{{range .Summary}}<svg role="img" aria-label="verdicts of all components" width="720" height="28" viewBox="0 0 720 28">
<g transform="translate(0,2)">{{range .Bars}}<rect class="{{.Class}}" x="{{.X}}" y="0" width="{{.Width}}" height="22"><title>{{.Label}}</title></rect>{{end}}
<text x="568" y="15">{{.Total}}</text></g></svg>{{end}}

<h2>By component type</h2>
<svg role="img" aria-label="verdicts per component type" width="920" height="{{.KindH}}" viewBox="0 0 920 {{.KindH}}">
{{range .KindRows}}<g transform="translate(0,{{.Y}})"><text x="0" y="15">{{.Label}}</text>
<g transform="translate(180,2)">{{range .Bars}}<rect class="{{.Class}}" x="{{.X}}" y="0" width="{{.Width}}" height="18"><title>{{.Label}}</title></rect>{{end}}</g>
<text x="750" y="15">{{.Total}}</text></g>
{{end}}</svg>

{{if .Problems}}<h2>Problems in the export ({{len .Problems}})</h2>
<ul class="problems">{{range .Problems}}<li><span class="badge {{if eq .Severity "error"}}manual{{else}}partial{{end}}">{{.Severity}}</span> {{.String}}</li>{{end}}</ul>{{end}}

<h2>Components</h2>
<div class="filters">
<label>Search <input id="q" type="search" placeholder="name, target, reason"></label>
<label>Type <select id="kind"><option value="">all</option>{{range .Kinds}}<option value="{{.Kind}}">{{.Label}}</option>{{end}}</select></label>
{{range .Verdicts}}<label><input type="checkbox" class="verdict" value="{{.}}" checked> {{.}}</label>{{end}}
<span id="shown"></span>
</div>
<table id="items"><thead><tr><th>Type</th><th>Name</th><th>Detail</th><th>Target</th><th>Verdict</th><th class="num">Hours</th><th>Reasons</th></tr></thead>
<tbody>
{{range .R.Items}}<tr data-kind="{{.Kind}}" data-verdict="{{.Verdict}}"><td>{{call $.KindLabel .Kind}}</td><td>{{.Name}}</td><td>{{.Detail}}</td><td>{{.Target}}</td><td class="badge {{.Verdict}}">{{.Verdict}}</td><td class="num">{{call $.HoursFmt .Hours}}</td><td class="reasons">{{call $.Joined .Reasons}}</td></tr>
{{end}}</tbody></table>
<p><em>{{.R.EffortModel}}</em></p>
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
