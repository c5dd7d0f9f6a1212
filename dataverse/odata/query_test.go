package odata

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func intp(n int) *int { return &n }

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Query
		// filters compares Format(Filter) since trees are checked elsewhere.
		filter string
	}{
		{
			name: "empty",
			raw:  "",
		},
		{
			name:   "basic options",
			raw:    "$select=name,revenue&$filter=revenue%20gt%20100&$orderby=revenue%20desc,name&$top=5&$count=true",
			want:   Query{Select: []string{"name", "revenue"}, OrderBy: []OrderItem{{Path: []string{"revenue"}, Desc: true}, {Path: []string{"name"}}}, Top: intp(5), Count: true},
			filter: "revenue gt 100",
		},
		{
			// overview.md, "Use parameter aliases with query options"; @p3
			// is never assigned, so it is null.
			name:   "aliases from the docs",
			raw:    "$select=name,revenue&$orderby=@p1%20asc,@p2%20desc&$filter=@p1%20ne%20@p3&@p1=revenue&@p2=name",
			want:   Query{Select: []string{"name", "revenue"}, OrderBy: []OrderItem{{Path: []string{"revenue"}}, {Path: []string{"name"}, Desc: true}}},
			filter: "revenue ne null",
		},
		{
			// filter-rows.md, "Manage single quotes", sent unencoded as the
			// docs show it.
			name:   "In with alias array",
			raw:    `$select=fullname&$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='lastname'&@p2=["OBrian","OBryan","O'Brian","O'Bryan"]`,
			want:   Query{Select: []string{"fullname"}},
			filter: `Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["OBrian","OBryan","O'Brian","O'Bryan"])`,
		},
		{
			name:   "alias used twice",
			raw:    "$filter=@a%20or%20not%20@a&@a=contains(name,'x')",
			filter: "contains(name,'x') or not contains(name,'x')",
		},
		{
			name:   "alias chain",
			raw:    "$filter=name%20eq%20@a&@a=@b&@b='x'",
			filter: "name eq 'x'",
		},
		{
			name:   "plus is a space, %2B is a plus",
			raw:    "$filter=contains(name,'a+b%2B123')+and+x+eq+1",
			filter: "contains(name,'a b+123') and x eq 1",
		},
		{
			name:   "malformed escapes are kept as written",
			raw:    "$filter=name%20eq%20'100%'%20or%20name%20eq%20'%zz'",
			filter: "name eq '100%' or name eq '%zz'",
		},
		{
			name: "empty pairs are skipped",
			raw:  "$top=0&&",
			want: Query{Top: intp(0)},
		},
		{
			name: "fetchXml is kept, with $count",
			raw:  "fetchXml=%3Cfetch%2F%3E&$count=true",
			want: Query{FetchXML: "<fetch/>", Count: true},
		},
		{
			name: "empty options are absent",
			raw:  "$select=&$filter=&$orderby=&$expand=",
		},
		{
			name: "top and count as .NET parses them",
			raw:  "$top=%2B7%20&$count=%20true",
			want: Query{Top: intp(7), Count: true},
		},
		{
			name: "select star and blanks",
			raw:  "$select=*&$count=false",
			want: Query{Select: []string{"*"}},
		},
		{
			name: "select with blanks",
			raw:  "$select=%20name%20,%20_customerid_value",
			want: Query{Select: []string{"name", "_customerid_value"}},
		},
		{
			name: "tokens are opaque",
			raw:  "$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%22%20/%3E&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44",
			want: Query{SkipToken: `<cookie pagenumber="2" pagingcookie="%3ccookie%20page%3d%221%22%3e" />`, DeltaToken: "919042!08/22/2017 08:10:44"},
		},
		{
			name: "expand with nested options",
			// The multi-line form from filter-rows.md, with ';' left raw.
			raw: "$expand=primarycontactid(%0A$select=fullname,_createdby_value;%0A$expand=createdby($select=fullname)),ownerid&$top=1",
			want: Query{Top: intp(1), Expand: []ExpandItem{
				{Property: "primarycontactid", Select: []string{"fullname", "_createdby_value"}, Expand: []ExpandItem{{Property: "createdby", Select: []string{"fullname"}}}},
				{Property: "ownerid"},
			}},
		},
		{
			name: "expand nested orderby and top",
			raw:  "$expand=contact_customer_accounts($select=fullname;$orderby=fullname%20desc;$top=3)",
			want: Query{Expand: []ExpandItem{{Property: "contact_customer_accounts", Select: []string{"fullname"}, OrderBy: []OrderItem{{Path: []string{"fullname"}, Desc: true}}, Top: intp(3)}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ParseQuery(tt.raw)
			if err != nil {
				t.Fatalf("ParseQuery: %v", err)
			}
			gotFilter := ""
			if q.Filter != nil {
				gotFilter = Format(q.Filter)
			}
			if gotFilter != tt.filter {
				t.Errorf("filter = %q, want %q", gotFilter, tt.filter)
			}
			q.Filter = nil
			if !reflect.DeepEqual(*q, tt.want) {
				t.Errorf("query\n got %+v\nwant %+v", *q, tt.want)
			}
		})
	}
}

func TestParseQueryExpandFilter(t *testing.T) {
	q, err := ParseQuery("$expand=contact_customer_accounts($filter=statecode%20eq%200%20and%20contains(fullname,'a;b)');$select=fullname)")
	if err != nil {
		t.Fatal(err)
	}
	it := q.Expand[0]
	if got := Format(it.Filter); got != "statecode eq 0 and contains(fullname,'a;b)')" {
		t.Errorf("nested filter = %s", got)
	}
	if !reflect.DeepEqual(it.Select, []string{"fullname"}) {
		t.Errorf("nested select = %v", it.Select)
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct {
		raw    string
		msg    string
		status int
	}{
		// overview.md: $skip, $search and $format are not supported; the
		// wording is what Dataverse answers (community testing; see
		// CodeQueryError).
		{"$skip=10", "The query parameter $skip is not supported", 400},
		{"$top=5&$search=blue", "The query parameter $search is not supported", 400},
		{"$format=json", "The query parameter $format is not supported", 400},
		{"$levels=2", "The query parameter $levels is not supported", 400},
		// Option names are case-sensitive.
		{"$Select=name", "The query parameter $Select is not supported", 400},
		{"%24FILTER=name%20eq%20'x'", "The query parameter $FILTER is not supported", 400},
		{"$top=1&$top=2", "Query option '$top' was specified more than once, but it must be specified at most once.", 400},
		{"$filter=a%20eq%20@p&@p=1&@p=2", "Query option '@p' was specified more than once, but it must be specified at most once.", 400},
		{"$top=-1", "Invalid value '-1' for $top query option found. The $top query option requires a non-negative integer value.", 400},
		{"$top=abc", "Invalid value 'abc' for $top query option found. The $top query option requires a non-negative integer value.", 400},
		{"$top=", "Invalid value '' for $top query option found. The $top query option requires a non-negative integer value.", 400},
		{"$top=99999999999999999999", "Invalid value '99999999999999999999' for $top query option found. The $top query option requires a non-negative integer value.", 400},
		{"$top=1.5", "Invalid value '1.5' for $top query option found. The $top query option requires a non-negative integer value.", 400},
		{"$count=TRUE", "'TRUE' is not a valid count option.", 400},
		{"$count=1", "'1' is not a valid count option.", 400},
		{"$count=", "'' is not a valid count option.", 400},
		{"$filter=%20", "Expression expected at position 1 in ' '.", 400},
		{"$filter=name%20eqq%20'x'", "Syntax error at position 5 in 'name eqq 'x''.", 400},
		{"$filter=name%20eq%20@p1&@p1=name%20eq", "Expression expected at position 7 in 'name eq'.", 400},
		{"$filter=name%20eq%20@a&@a=@b&@b=@a", "Recursion depth exceeded allowed limit.", 400},
		{"$select=name,", "Term 'name,' is not valid in a $select or $expand expression.", 400},
		{"$select=name%20revenue", "Term 'name revenue' is not valid in a $select or $expand expression.", 400},
		{"$select=primarycontactid/fullname", "Term 'primarycontactid/fullname' is not valid in a $select or $expand expression.", 400},
		{"$orderby=contains(name,'x')", "The $orderby expression 'contains(name,'x')' is not a property: Dataverse sorts by columns only.", 400},
		{"$orderby=name%20asc%20desc", "Syntax error at position 9 in 'name asc desc'.", 400},
		{"$orderby=name,", "Expression expected at position 5 in 'name,'.", 400},
		{"$expand=primarycontactid()", "Missing expand option on navigation property 'primarycontactid'. If a parenthesis expression follows an expanded navigation property, then at least one expand option must be provided.", 400},
		{"$expand=contact_customer_accounts($skip=1)", "The query parameter $skip is not supported", 400},
		{"$expand=contact_customer_accounts($count=true)", "The query parameter $count is not supported", 400},
		{"$expand=x($select=a;$select=b)", "Query option '$select' was specified more than once, but it must be specified at most once.", 400},
		{"$expand=x($top=-2)", "Top option must be a non-negative integer, it is set to '-2' instead.", 400},
		{"$expand=x(select=a)", "Term 'x(select=a)' is not valid in a $select or $expand expression.", 400},
		{"$expand=a/b", "Term 'a/b' is not valid in a $select or $expand expression.", 400},
		{"$expand=x($select=a", "')' or ',' expected at position 11 in 'x($select=a'.", 400},
		{"$expand=x($filter=name%20eq%20@p1)&@p1='a'", "Parameter alias '@p1' cannot be used here: Dataverse accepts parameter aliases only in $filter and $orderby, not inside $expand.", 400},
		{"$expand=x($filter=name%20eq)", "Expression expected at position 7 in 'name eq'.", 400},
		{"$expand=a($expand=b($expand=c)),d($expand=e($expand=f)),g($expand=h($expand=i)),j($expand=k($expand=l)),m($expand=n($expand=o)),p", "Number of expands in the query exceeds the limit of 15.", 400},
		// An unknown parameter is refused, never dropped (issue 14).
		{"foo=bar&$top=0", "The query parameter foo is not supported", 400},
		{"savedQuery=00000000-0000-0000-0000-000000000000", "The query parameter savedQuery is not supported", 400},
		{"fetchXml=%3Cfetch%2F%3E&$top=1", "The query parameter $top cannot be combined with fetchXml: a FetchXML query carries its own columns, filter, order and paging.", 400},
		{"$apply=compute(a%20as%20b)", "'compute' is not a supported $apply transformation.", 400},
		{"$apply=aggregate(a%20with%20median%20as%20m)", "'median' is not a supported aggregation method; use sum, average, min, max or countdistinct.", 400},
		{"$apply=groupby((a))/filter(a%20eq%201)", "Only filter(...) may come before groupby(...) or aggregate(...) in $apply, and nothing after them.", 400},
	}
	// An alias that repeats another alias hundreds of times, balanced so
	// that the tree stays shallow and only its expanded size is too large.
	var balanced func(n int, a string) string
	balanced = func(n int, a string) string {
		if n == 1 {
			return a
		}
		return "(" + balanced(n/2, a) + "%20and%20" + balanced(n-n/2, a) + ")"
	}
	many := balanced(512, "@b")
	tests = append(tests, struct {
		raw    string
		msg    string
		status int
	}{"$filter=@a&@a=" + many + "&@b=" + balanced(512, "@c") + "&@c=x%20eq%201",
		"The $filter expression is too large once parameter aliases are substituted (more than 100000 nodes).", 400})
	// 999 chained comparisons: ODL's binder refuses the depth (issue 13,
	// defect 3: this gave 500 before).
	chain := "a%20eq%200" + strings.Repeat("%20or%20a%20eq%201", 998)
	tests = append(tests, struct {
		raw    string
		msg    string
		status int
	}{"$filter=" + chain, "Recursion depth exceeded allowed limit.", 400})
	for _, tt := range tests {
		t.Run(tt.raw[:min(len(tt.raw), 80)], func(t *testing.T) {
			q, err := ParseQuery(tt.raw)
			if err == nil {
				t.Fatalf("ParseQuery = %+v, want error %q", q, tt.msg)
			}
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %T is not *Error", err)
			}
			if oe.Message != tt.msg {
				t.Errorf("message\n got %q\nwant %q", oe.Message, tt.msg)
			}
			if oe.Code != CodeQueryError || oe.StatusCode() != tt.status {
				t.Errorf("code %q status %d, want %q %d", oe.Code, oe.StatusCode(), CodeQueryError, tt.status)
			}
		})
	}
}

func TestQueryEncodeRoundTrip(t *testing.T) {
	raws := []string{
		"$select=name,revenue&$filter=contains(name,'a%26b%2B%23c')%20and%20revenue%20gt%201.50&$orderby=name%20desc&$top=10&$count=true",
		"$expand=primarycontactid($select=fullname;$filter=statecode%20eq%200;$orderby=fullname;$top=2;$expand=createdby($select=fullname))&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E",
		`$filter=Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["O'Brian","a b"])%20or%20createdon%20ge%202024-01-02T03:04:05%2B01:00`,
		"$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44",
	}
	for _, raw := range raws {
		q, err := ParseQuery(raw)
		if err != nil {
			t.Fatalf("ParseQuery(%s): %v", raw, err)
		}
		enc := q.Encode()
		if strings.ContainsAny(enc, " +#\"[]") {
			t.Errorf("Encode left unsafe characters: %s", enc)
		}
		q2, err := ParseQuery(enc)
		if err != nil {
			t.Fatalf("ParseQuery(Encode()) of %s: %v\nencoded: %s", raw, err, enc)
		}
		if enc2 := q2.Encode(); enc2 != enc {
			t.Errorf("Encode is not stable:\n%s\n%s", enc, enc2)
		}
		if (q.Filter == nil) != (q2.Filter == nil) || (q.Filter != nil && !equalExpr(q.Filter, q2.Filter)) {
			t.Errorf("filter changed: %s vs %s", Format(q.Filter), Format(q2.Filter))
		}
	}
	q, _ := ParseQuery("$select=name&$filter=name%20eq%20'a%20b'&$top=3")
	if got, want := q.Encode(), "$select=name&$filter=name%20eq%20'a%20b'&$top=3"; got != want {
		t.Errorf("Encode = %s, want %s", got, want)
	}
}
