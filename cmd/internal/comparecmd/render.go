package comparecmd

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/compare"
)

// Summary is the --json output.
type Summary struct {
	Matched          int64            `json:"matched"`
	OnlyInOdoo       int64            `json:"onlyInOdoo"`
	OnlyInDataverse  int64            `json:"onlyInDataverse"`
	Differing        int64            `json:"differing"`
	FieldDifferences map[string]int64 `json:"fieldDifferences"`
	MatchedBy        map[string]int64 `json:"matchedBy"`
	OdooRecords      int64            `json:"odooRecords"`
	DataverseRecords int64            `json:"dataverseRecords"`
	Requests         map[string]int64 `json:"requests"`
	Report           string           `json:"report"`
	Files            []string         `json:"files"`
}

func summary(o *options, rep *compare.Report) Summary {
	r := rep.Result
	s := Summary{Matched: r.Matched, OnlyInOdoo: r.OnlyInOdoo, OnlyInDataverse: r.OnlyInDataverse, Differing: r.Differing,
		FieldDifferences: r.FieldDifferences, MatchedBy: r.MatchedBy, OdooRecords: r.OdooRecords, DataverseRecords: r.DataverseRecords,
		Requests: map[string]int64{"odoo": rep.OdooRequests, "dataverse": rep.DataverseRequests},
		Report:   filepath.Join(o.out, compare.FileHTML)}
	for _, f := range rep.Files {
		s.Files = append(s.Files, filepath.Join(o.out, f))
	}
	sort.Strings(s.Files)
	return s
}

func render(streams *output.Streams, o *options, rep *compare.Report) error {
	s := summary(o, rep)
	if o.json {
		return output.WriteJSON(streams.Out, s)
	}
	w := streams.Out
	fmt.Fprintf(w, "Odoo %d tickets, Dataverse %d cases (requests: %d to Odoo, %d to Dataverse)\n\n", s.OdooRecords, s.DataverseRecords,
		rep.OdooRequests, rep.DataverseRequests)
	rows := [][]string{{"matched", fmt.Sprint(s.Matched)}, {"only in Odoo", fmt.Sprint(s.OnlyInOdoo)},
		{"only in Dataverse", fmt.Sprint(s.OnlyInDataverse)}, {"matched with differences", fmt.Sprint(s.Differing)}}
	if err := output.Table(w, []string{"records", "count"}, rows); err != nil {
		return err
	}
	if len(s.FieldDifferences) > 0 {
		fmt.Fprintln(w)
		var fr [][]string
		for _, f := range rep.Result.Fields {
			if n := s.FieldDifferences[f]; n > 0 {
				fr = append(fr, []string{f, fmt.Sprint(n)})
			}
		}
		if err := output.Table(w, []string{"field", "differences"}, fr); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nReport: %s\n", s.Report)
	for _, f := range s.Files {
		if f != s.Report {
			fmt.Fprintf(w, "        %s\n", f)
		}
	}
	return nil
}
