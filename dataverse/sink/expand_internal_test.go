package sink

import (
	"fmt"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// An expanded collection is taken out of the record read back, and one
// that may have been cut at Dataverse's 5,000 (a single-level $expand is
// not paged) is named for a paged read of its own.
func TestTakeLinks(t *testing.T) {
	tbl := &schema.Table{LogicalName: "team", PrimaryID: "teamid"}
	rels := relTables{"small": "systemuserid", "big": "systemuserid"}
	related := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"systemuserid": fmt.Sprintf("00000000-0000-0000-0000-%012X", i)}
		}
		return out
	}
	rec := dataverse.Record{"teamid": "AAAAAAAA-0000-0000-0000-000000000001", "name": "t",
		"small": related(3), "small@odata.nextLink": "…/teams(…)/small",
		"big": related(maxExpanded), "big@odata.nextLink": "…/teams(…)/big"}
	sets := linkSets{}
	full := takeLinks(tbl, rec, []string{"big", "small"}, rels, sets)
	if len(full) != 1 || full[0] != "aaaaaaaa-0000-0000-0000-000000000001 big" {
		t.Errorf("collections to read in full: %q, want the one of %d", full, maxExpanded)
	}
	got := sets["aaaaaaaa-0000-0000-0000-000000000001"]
	if len(got["small"]) != 3 || !got["small"]["00000000-0000-0000-0000-000000000002"] {
		t.Errorf("small: %v", got["small"])
	}
	for _, k := range []string{"small", "small@odata.nextLink", "big", "big@odata.nextLink"} {
		if _, ok := rec[k]; ok {
			t.Errorf("%s left among the columns", k)
		}
	}
	if rec["name"] != "t" {
		t.Errorf("columns changed: %v", rec)
	}
}
