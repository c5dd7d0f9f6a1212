package compare

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Colours of the two systems in every chart: Odoo's aubergine and the
// Dynamics 365 blue, so a reader learns them once.
const (
	colourOdoo      = "#714B67"
	colourDataverse = "#0F6CBD"
)

func esc(s string) string { return html.EscapeString(s) }

func val(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// fmtNum prints counts without decimals and other values with one.
func fmtNum(p *float64) string {
	if p == nil {
		return "–"
	}
	v := *p
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// barChart draws grouped horizontal bars, one pair per row, as inline SVG
// (nothing is fetched when the report opens).
func barChart(f Figure, maxRows int) template.HTML {
	rows := f.Rows
	if len(rows) > maxRows {
		rows = rows[:maxRows]
	}
	if len(rows) == 0 {
		return template.HTML(`<p class="muted">No data on either side.</p>`)
	}
	const labelW, barW, valW, rowH, barH = 190.0, 330.0, 52.0, 34.0, 12.0
	max := 0.0
	for _, r := range rows {
		max = math.Max(max, math.Max(val(r.Odoo), val(r.Dataverse)))
	}
	if max == 0 {
		max = 1
	}
	if f.Unit == "%" {
		max = 100
	}
	w := labelW + barW + valW
	h := float64(len(rows))*rowH + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s">`, w, h, esc(f.Title))
	for i, r := range rows {
		y := float64(i)*rowH + 4
		label := r.Label
		if len([]rune(label)) > 28 {
			label = string([]rune(label)[:27]) + "…"
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" class="lbl" text-anchor="end">%s<title>%s</title></text>`, labelW-10, y+barH+4, esc(label), esc(r.Label))
		for j, side := range []struct {
			v      *float64
			colour string
		}{{r.Odoo, colourOdoo}, {r.Dataverse, colourDataverse}} {
			by := y + float64(j)*(barH+2)
			bw := barW * val(side.v) / max
			if side.v != nil && bw < 1.5 && val(side.v) > 0 {
				bw = 1.5
			}
			fmt.Fprintf(&b, `<rect x="%.0f" y="%.1f" width="%.1f" height="%.0f" rx="2" fill="%s"/>`, labelW, by, bw, barH, side.colour)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="num">%s</text>`, labelW+bw+4, by+barH-2, fmtNum(side.v))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// lineChart draws both sides as lines over the rows' labels (months).
func lineChart(f Figure) template.HTML {
	if len(f.Rows) == 0 {
		return template.HTML(`<p class="muted">No data on either side.</p>`)
	}
	const w, h, left, right, top, bottom = 560.0, 210.0, 44.0, 30.0, 12.0, 34.0
	max := 0.0
	for _, r := range f.Rows {
		max = math.Max(max, math.Max(val(r.Odoo), val(r.Dataverse)))
	}
	max = niceCeil(max)
	n := len(f.Rows)
	x := func(i int) float64 {
		if n == 1 {
			return left + (w-left-right)/2
		}
		return left + float64(i)*(w-left-right)/float64(n-1)
	}
	y := func(v float64) float64 { return top + (h-top-bottom)*(1-v/max) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s">`, w, h, esc(f.Title))
	for k := 0; k <= 4; k++ {
		v := max * float64(k) / 4
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" class="grid"/><text x="%.0f" y="%.1f" class="axis" text-anchor="end">%.0f</text>`,
			left, w-right, y(v), y(v), left-6, y(v)+4, v)
	}
	step := int(math.Ceil(float64(n) / 8))
	for i, r := range f.Rows {
		if i%step == 0 || i == n-1 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" class="axis" text-anchor="middle">%s</text>`, x(i), h-bottom+18, esc(r.Label))
		}
	}
	// Odoo is drawn wider underneath, so equal series stay both visible.
	for _, side := range []struct {
		get    func(FigureRow) *float64
		colour string
		width  float64
	}{{func(r FigureRow) *float64 { return r.Odoo }, colourOdoo, 5}, {func(r FigureRow) *float64 { return r.Dataverse }, colourDataverse, 2}} {
		var pts []string
		for i, r := range f.Rows {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(val(side.get(r)))))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="%.0f" stroke-linejoin="round"/>`, strings.Join(pts, " "), side.colour, side.width)
		for i, r := range f.Rows {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s</title></circle>`, x(i), y(val(side.get(r))), side.colour, esc(r.Label), fmtNum(side.get(r)))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// classBar draws one field's classification as a 100% stacked bar.
func classBar(counts map[string]int64, order []string, colours map[string]string) template.HTML {
	var total int64
	for _, c := range order {
		total += counts[c]
	}
	if total == 0 {
		return ""
	}
	const w, h = 260.0, 14.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" class="stack">`, w, h, w, h)
	x := 0.0
	for _, c := range order {
		if counts[c] == 0 {
			continue
		}
		cw := w * float64(counts[c]) / float64(total)
		fmt.Fprintf(&b, `<rect x="%.2f" y="0" width="%.2f" height="%.0f" fill="%s"><title>%s: %d</title></rect>`, x, cw, h, colours[c], esc(c), counts[c])
		x += cw
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
