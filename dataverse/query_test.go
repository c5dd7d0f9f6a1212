package dataverse_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
)

func TestFilterEscapesLiterals(t *testing.T) {
	id := uuid.MustParse("00000000-0000-0000-0000-000000000001")
	cases := []struct {
		f    dataverse.Filter
		want string
	}{
		{dataverse.Eq("title", "O'Neil"), "title eq 'O''Neil'"},
		{dataverse.Eq("title", "x' or title ne 'y"), "title eq 'x'' or title ne ''y'"},
		{dataverse.Eq("_customerid_value", id), "_customerid_value eq 00000000-0000-0000-0000-000000000001"},
		{dataverse.Gt("prioritycode", 2).And(dataverse.IsNull("resolveby")), "(prioritycode gt 2) and (resolveby eq null)"},
		{dataverse.Eq("a", true).Or(dataverse.Le("b", 1.5)), "(a eq true) or (b le 1.5)"},
		{dataverse.Not(dataverse.Contains("title", "50%")), "not (contains(title,'50%'))"},
		{dataverse.StartsWith("primarycontactid/fullname", "Ann"), "startswith(primarycontactid/fullname,'Ann')"},
		{dataverse.Ge("createdon", time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))), "createdon ge 2024-01-02T02:04:05Z"},
		{dataverse.Eq("startdate", dataverse.DateOf(time.Date(2024, 5, 6, 23, 0, 0, 0, time.UTC))), "startdate eq 2024-05-06"},
		{dataverse.In("title", "a", `b"c`, "d'e"), `Microsoft.Dynamics.CRM.In(PropertyName='title',PropertyValues=["a","b\"c","d'e"])`},
		{dataverse.Between("numberofemployees", 5, 2000), `Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=["5","2000"])`},
		{dataverse.Filter{}.And(dataverse.Eq("a", 1)), "a eq 1"},
	}
	for _, c := range cases {
		if c.f.Err() != nil {
			t.Errorf("%s: %v", c.want, c.f.Err())
			continue
		}
		if c.f.String() != c.want {
			t.Errorf("got %s, want %s", c.f, c.want)
		}
	}
}

func TestFilterRejectsBadInput(t *testing.T) {
	bad := []dataverse.Filter{
		dataverse.Eq("title eq 'x' or 1", 1),
		dataverse.Eq("title", struct{}{}),
		dataverse.Eq("a", func() {}).And(dataverse.Eq("b", 1)),
		dataverse.In("title"),
		dataverse.RawFilter("a eq 1\r\nHost: evil"),
	}
	for i, f := range bad {
		if _, err := (dataverse.Query{Filter: f}).Encode(); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if _, err := (dataverse.Query{Select: []string{"title,evil"}}).Encode(); err == nil {
		t.Error("bad select accepted")
	}
}

func TestQueryEncodeEscapesForTheURL(t *testing.T) {
	q := dataverse.Query{
		Select:  []string{"title", "ticketnumber"},
		Filter:  dataverse.Eq("title", "a&b #1+2 é"),
		OrderBy: []dataverse.Order{{Column: "createdon", Desc: true}},
		Expand:  []dataverse.Expand{{Property: "customerid_account", Select: []string{"name"}}},
		Top:     3,
		Count:   true,
	}
	got, err := q.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "$select=title,ticketnumber&$filter=title%20eq%20'a%26b%20%231%2B2%20%C3%A9'&$orderby=createdon%20desc&$expand=customerid_account($select=name)&$top=3&$count=true"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if strings.Count(got, "&") != 5 {
		t.Fatal("a value split the query string")
	}
}

func TestKeySegment(t *testing.T) {
	seg, err := dataverse.KeySegment(dataverse.ByKey("ticketnumber", "CAS-1'/x y", "title", "t"))
	if err != nil {
		t.Fatal(err)
	}
	if seg != "ticketnumber='CAS-1''%2Fx%20y',title='t'" {
		t.Fatalf("seg = %s", seg)
	}
	if _, err := dataverse.KeySegment(dataverse.ByKey("ticketnumber")); err == nil {
		t.Fatal("odd key pairs accepted")
	}
	if _, err := dataverse.KeySegment(dataverse.Key{}); err == nil {
		t.Fatal("empty key accepted")
	}
}
