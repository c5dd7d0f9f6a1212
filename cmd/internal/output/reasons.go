package output

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Reason is a group of records skipped or rejected for one reason.
type Reason struct {
	Count    int64
	Step     string
	Text     string
	Examples []string // source IDs
}

// MaxReasons bounds the reason groups Reasons prints; --json and the
// reports have them all.
const MaxReasons = 10

// Reasons prints groups largest first, one line each:
//
//	7  contacts  a person: migrated as a contact  (e.g. 12, 15, 31)
func Reasons(w io.Writer, groups []Reason) {
	groups = slices.Clone(groups)
	slices.SortStableFunc(groups, func(a, b Reason) int { return cmp.Compare(b.Count, a.Count) })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, g := range groups {
		if i == MaxReasons {
			tw.Flush()
			fmt.Fprintf(w, "  … and %d more reasons (see --json or the report)\n", len(groups)-i)
			return
		}
		eg := ""
		if len(g.Examples) > 0 {
			eg = "  (e.g. " + strings.Join(g.Examples, ", ") + ")"
		}
		fmt.Fprintf(tw, "  %7s  %s\t%s%s\n", Count(g.Count), g.Step, g.Text, eg)
	}
	tw.Flush()
}
