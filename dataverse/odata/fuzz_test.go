package odata

import (
	"errors"
	"testing"
	"unicode/utf16"
)

var filterSeeds = []string{
	"name eq 'Contoso'",
	"a eq 1 or b eq 2 and not (c eq 3)",
	"not contains(name,'O''Brian') and revenue gt -1.5e3",
	"_customerid_value eq 7d1bd3a5-0bb7-4f45-a1e9-3b1e4b4b5c6d",
	"createdon ge 2024-01-02T03:04:05.5+01:00 and enddate le 2024-02-03",
	"primarycontactid/fullname eq null",
	`Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=["a","b\"c",'d',1,null])`,
	"Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)",
	"Account_Tasks/all(t:t/statecode eq 1) or Account_Emails/any()",
	"OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'",
	"lastname eq 'O'Bryan'",
	"((((a))))",
	"x eq @p1",
	"a in (1)",
	"x eq [1,2]",
}

// FuzzParseFilter checks that ParseFilter never panics, that its errors are
// *Error with a sane position, and that Format's output parses back to the
// same tree and is a fixed point of Format.
func FuzzParseFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := ParseFilter(in)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if oe.Message == "" || oe.Code == "" {
				t.Fatalf("empty error fields: %+v", oe)
			}
			if oe.Position < -1 || oe.Position > len(utf16.Encode([]rune(in)))+len(in) {
				t.Fatalf("position %d out of range for %q", oe.Position, in)
			}
			return
		}
		text := Format(e)
		back, err := ParseFilter(text)
		if err != nil {
			t.Fatalf("Format(%q) = %q does not parse: %v", in, text, err)
		}
		if !equalExpr(e, back) {
			t.Fatalf("round trip changed the tree\n in   %q\n text %q\n got  %s\n want %s", in, text, dump(back), dump(e))
		}
		if again := Format(back); again != text {
			t.Fatalf("Format is not a fixed point: %q then %q", text, again)
		}
		ReferencedProperties(e)
	})
}

// realisticFilter is the kind of filter a case-management client sends:
// lookups, choices, dates, a string function and a query function.
const realisticFilter = "statecode eq 0 and (prioritycode eq 1 or prioritycode eq 2) and " +
	"_customerid_value eq 7d1bd3a5-0bb7-4f45-a1e9-3b1e4b4b5c6d and " +
	"createdon ge 2024-01-01T00:00:00Z and not contains(title,'test') and " +
	"Microsoft.Dynamics.CRM.In(PropertyName='caseorigincode',PropertyValues=[\"1\",\"2\",\"3\"]) and " +
	"primarycontactid/fullname ne null"

func BenchmarkParseFilter(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(realisticFilter)))
	for b.Loop() {
		if _, err := ParseFilter(realisticFilter); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseQuery(b *testing.B) {
	raw := "$select=title,ticketnumber,statecode,prioritycode,createdon&$filter=" + queryEscape(realisticFilter) +
		"&$orderby=createdon%20desc,incidentid&$expand=primarycontactid($select=fullname)&$count=true"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseQuery(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseQuery checks that ParseQuery never panics, fails only with
// *Error, and that Encode gives a query string that parses to the same
// canonical form.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"$select=name,revenue&$filter=revenue%20gt%20100&$orderby=revenue%20desc&$top=5&$count=true",
		"$orderby=@p1%20asc&$filter=@p1%20ne%20@p3&@p1=revenue",
		"$expand=primarycontactid($select=fullname;$filter=statecode%20eq%200;$expand=createdby($select=fullname))",
		"$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E&$deltatoken=1%212",
		"$skip=1", "$top=-1", "$filter=a+eq+'b%2Bc'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseQuery(raw)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		enc := q.Encode()
		q2, err := ParseQuery(enc)
		if err != nil {
			t.Fatalf("Encode() = %q does not parse: %v", enc, err)
		}
		if enc2 := q2.Encode(); enc2 != enc {
			t.Fatalf("Encode not stable:\n%q\n%q", enc, enc2)
		}
	})
}
