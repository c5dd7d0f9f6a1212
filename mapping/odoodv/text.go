package odoodv

import (
	"html"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	blockEnd  = regexp.MustCompile(`(?i)<\s*(br\s*/?|/p|/div|/li|/h[1-6]|/tr|/blockquote|/pre)\s*>`)
	listItem  = regexp.MustCompile(`(?i)<\s*li[^>]*>`)
	anyTag    = regexp.MustCompile(`(?s)<[^>]*>`)
	dropBlock = regexp.MustCompile(`(?is)<\s*(script|style)[^>]*>.*?<\s*/\s*(script|style)\s*>`)
	spaces    = regexp.MustCompile(`[ \t\r\f\v\x{00a0}]+`)
	blankRuns = regexp.MustCompile(`\n{3,}`)
)

// htmlToText turns Odoo's HTML fields into plain text for Dataverse text
// columns: block ends become line breaks, list items get a bullet, tags go,
// entities are decoded, whitespace is collapsed.
func htmlToText(s string) string {
	if s == "" {
		return ""
	}
	s = dropBlock.ReplaceAllString(s, "")
	s = listItem.ReplaceAllString(s, "• ")
	s = blockEnd.ReplaceAllString(s, "\n")
	s = anyTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(spaces.ReplaceAllString(l, " "))
	}
	s = strings.Join(lines, "\n")
	s = blankRuns.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s)
}

// truncate cuts s to max characters (Dataverse lengths count UTF-16 code
// units; runes are a safe approximation for the BMP text Odoo holds), ending
// with an ellipsis when cut.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// truncateHTML cuts an HTML body to max characters with a visible marker;
// a tag cut in half is dropped so the note still renders.
func truncateHTML(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	const marker = "<p>[… truncated by dvsync: the Odoo message is longer than the note allows]</p>"
	r := []rune(s)
	cut := string(r[:max-utf8.RuneCountInString(marker)])
	if i, j := strings.LastIndex(cut, "<"), strings.LastIndex(cut, ">"); i > j {
		cut = cut[:i]
	}
	return cut + marker
}

// dvTime formats an Odoo UTC datetime as a Web API Edm.DateTimeOffset.
func dvTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// splitName splits a person's name into first and last name the way
// Dataverse composes fullname ("first last"): the last word is the last
// name.
func splitName(name string) (first, last string) {
	name = strings.Join(strings.Fields(name), " ")
	i := strings.LastIndexByte(name, ' ')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}
