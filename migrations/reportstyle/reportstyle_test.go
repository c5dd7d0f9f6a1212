package reportstyle

import (
	"strings"
	"testing"
)

// Every report (compare, verify, migration) uses this one stylesheet, and
// it fetches nothing when a report is opened.
func TestCSSIsSelfContained(t *testing.T) {
	if strings.Contains(css, "url(") || strings.Contains(css, "@import") {
		t.Error("the stylesheet refers to an outside resource")
	}
}

func TestStackedRows(t *testing.T) {
	svg := string(StackedRows("a <b>", []Row{
		{Label: "<script>", Segments: []Segment{{"ok", 3, ColourOK}, {"skipped", 1, ColourSkipped}, {"none", 0, ColourBad}}},
		{Label: "b", Segments: []Segment{{"ok", 1200, ColourOK}}},
	}))
	for _, want := range []string{`aria-label="a &lt;b&gt;"`, "&lt;script&gt;", ColourOK, ColourSkipped, ">1,200<", "<title>skipped: 1</title>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, ColourBad) || strings.Contains(svg, "<script>") {
		t.Errorf("chart draws an empty segment or unescaped markup:\n%s", svg)
	}
	if Count(-1234567) != "-1,234,567" || Count(999) != "999" {
		t.Error("Count")
	}
}
