// Package reportstyle is how dvsync's HTML reports look and how every
// report and data file is written, so that the comparison, the migration
// and the verification reports read as one product: one stylesheet (the
// comparison report's, with additions), inline SVG charts that a browser
// draws without fetching anything, and one rule for file permissions.
package reportstyle

import (
	_ "embed"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

//go:embed report.css
var css string

// CSS is the stylesheet every report inlines in a <style> element: the
// comparison report's (migrations/compare), then the rules the migration
// and verification reports add. Nothing in it refers to an outside
// resource.
func CSS() template.CSS { return template.CSS(css) }

// Colours of outcomes, the same in every chart and legend.
const (
	ColourOK        = "#2E8540" // matched, created
	ColourUpdated   = "#0F6CBD" // updated or written (Dataverse blue)
	ColourUnchanged = "#7FA7CF"
	ColourSkipped   = "#B8C4CE"
	ColourRejected  = "#B4591A"
	ColourBad       = "#C4314B" // mismatches
	ColourPending   = "#E3E7EB" // not checked
)

// FileMode is the permission of every file dvsync writes, reports and
// data files (rejects, skips, warnings, records) alike: readable by all,
// writable by the owner, before the umask, as any command-line tool
// writes its output. A report is made to be shared; whoever keeps
// customer data on a shared machine sets a umask or a private folder, as
// for every other file.
const FileMode os.FileMode = 0o644

// WriteFile replaces path atomically with what write produces: it writes
// beside path and renames, so a reader never sees half a report and an
// interrupted run leaves the previous file. The file gets FileMode (less
// the umask), as the data files do.
func WriteFile(path string, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := CreatePartial(dir, base)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, nothing to remove
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// CreatePartial creates the file a write of base in dir goes to before
// it is renamed into place (".base.partial-…"). Unlike os.CreateTemp,
// whose 0600 would set reports apart from the data files, it is created
// with FileMode, less the same umask as every other file.
func CreatePartial(dir, base string) (*os.File, error) {
	for {
		f, err := os.OpenFile(filepath.Join(dir, "."+base+".partial-"+strconv.FormatUint(rand.Uint64(), 36)), os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

// OpenAppend opens a JSON Lines data file for appending (a resumed run
// adds to what earlier runs listed), creating it with FileMode.
func OpenAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, FileMode)
}

// Create creates or truncates a data file with FileMode.
func Create(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, FileMode)
}

// Count formats n with thousands separators: 12,345.
func Count(n int64) string {
	if n < 0 {
		return "-" + Count(-n)
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Segment is one part of a stacked bar.
type Segment struct {
	Label  string
	Value  int64
	Colour string
}

// Row is one labelled stacked bar of a chart.
type Row struct {
	Label    string
	Segments []Segment
}

// StackedRows draws one horizontal stacked bar per row, each scaled to the
// largest row's total, with the total at its end, as inline SVG: the shape
// of a run or a verification at a glance (how much of each step was
// created, unchanged, skipped or rejected). Every segment names its label
// and count in a tooltip.
func StackedRows(title string, rows []Row) template.HTML {
	if len(rows) == 0 {
		return template.HTML(`<p class="muted">Nothing to show.</p>`)
	}
	const labelW, barW, valW, rowH, barH = 170.0, 600.0, 80.0, 26.0, 16.0
	var top int64
	for _, r := range rows {
		top = max(top, total(r.Segments))
	}
	if top == 0 {
		top = 1
	}
	w, h := labelW+barW+valW, float64(len(rows))*rowH+6
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s">`, w, h, esc(title))
	for i, r := range rows {
		y := float64(i)*rowH + 4
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" class="lbl" text-anchor="end">%s</text>`, labelW-10, y+barH-3, esc(r.Label))
		x := labelW
		for _, s := range r.Segments {
			if s.Value <= 0 {
				continue
			}
			sw := barW * float64(s.Value) / float64(top)
			if sw < 1.5 {
				sw = 1.5 // a single record stays visible
			}
			fmt.Fprintf(&b, `<rect x="%.2f" y="%.1f" width="%.2f" height="%.0f" fill="%s"><title>%s: %s</title></rect>`,
				x, y, sw, barH, s.Colour, esc(s.Label), Count(s.Value))
			x += sw
		}
		fmt.Fprintf(&b, `<text x="%.2f" y="%.1f" class="num">%s</text>`, x+6, y+barH-3, Count(total(r.Segments)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Legend names the colours of segs, with their counts.
func Legend(segs []Segment) template.HTML {
	var b strings.Builder
	b.WriteString(`<div class="legend">`)
	for _, s := range segs {
		fmt.Fprintf(&b, `<span><i style="background:%s"></i>%s %s</span>`, s.Colour, esc(s.Label), Count(s.Value))
	}
	b.WriteString(`</div>`)
	return template.HTML(b.String())
}

func total(segs []Segment) int64 {
	var n int64
	for _, s := range segs {
		n += max(s.Value, 0)
	}
	return n
}

func esc(s string) string { return html.EscapeString(s) }
