package odata

import (
	"reflect"
	"testing"
)

func TestParseApply(t *testing.T) {
	got, err := ParseApply("filter(address1_stateorprovince eq 'WA')/groupby((statuscode,primarycontactid/fullname),aggregate(revenue with sum as total,$count as count))")
	if err != nil {
		t.Fatal(err)
	}
	want := []Transformation{
		{Kind: TransformFilter, Filter: &BinaryExpr{Op: OpEq, Left: &Property{Path: []string{"address1_stateorprovince"}}, Right: &Literal{Kind: LitString, Value: "WA", Raw: "'WA'"}}},
		{Kind: TransformGroupBy, GroupBy: [][]string{{"statuscode"}, {"primarycontactid", "fullname"}}, Aggregates: []AggregateExpr{
			{Path: []string{"revenue"}, Method: AggSum, Alias: "total"},
			{Method: AggCount, Alias: "count"},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseApply =\n%#v\nwant\n%#v", got, want)
	}
	if _, err := ParseApply("groupby((a)"); err == nil {
		t.Fatal("unbalanced groupby accepted")
	}
}

// FuzzParseApply checks that $apply parsing never panics and that every
// refusal is an *Error with Dataverse's code.
func FuzzParseApply(f *testing.F) {
	for _, s := range []string{
		"groupby((statuscode))",
		"groupby((statuscode),aggregate($count as count))",
		"aggregate(revenue with sum as total)",
		"filter(a eq 'x')/groupby((primarycontactid/fullname))",
		"groupby((a),aggregate(b with countdistinct as c))/filter(x)",
		"filter(((((",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		_, err := ParseApply(in)
		if err != nil && (err.Code == "" || err.Message == "") {
			t.Fatalf("bad error %+v", err)
		}
	})
}
