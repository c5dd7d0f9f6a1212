package dataverse

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestSameValue(t *testing.T) {
	id := uuid.MustParse("7d5e1f1e-0000-4000-8000-000000000001")
	cases := []struct {
		a, b any
		want bool
	}{
		{1, json.Number("1"), true},
		{1, json.Number("1.0"), true},
		{0.1, json.Number("0.1"), true},
		{int64(5), 5.0, true},
		{"5", 5, false},
		{"2024-01-02T04:04:05+01:00", "2024-01-02T03:04:05Z", true},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02T03:04:05Z", true},
		{"2024-01-02", "2024-01-02", true},
		{id, id.String(), true},
		{nil, nil, true},
		{nil, "", false},
		{true, true, true},
		{true, false, false},
		{"a", "A", false},
	}
	for _, c := range cases {
		if got := SameValue(c.a, c.b); got != c.want {
			t.Errorf("SameValue(%#v, %#v) = %v", c.a, c.b, got)
		}
	}
}

func TestParseBind(t *testing.T) {
	id := uuid.MustParse("7d5e1f1e-0000-4000-8000-000000000001")
	b, err := ParseBind("/accounts(" + id.String() + ")")
	if err != nil || b.EntitySet != "accounts" || b.Key.ID != id {
		t.Fatalf("%+v %v", b, err)
	}
	b, err = ParseBind("https://org.crm.dynamics.com/api/data/v9.2/systemusers(internalemailaddress='o''neil@x.com')")
	if err != nil || b.EntitySet != "systemusers" || b.Key.Alternate["internalemailaddress"] != "o'neil@x.com" {
		t.Fatalf("%+v %v", b, err)
	}
	b, err = ParseBind("/contacts(firstname='A,B',lastname='C')")
	if err != nil || b.Key.Alternate["firstname"] != "A,B" || b.Key.Alternate["lastname"] != "C" {
		t.Fatalf("%+v %v", b, err)
	}
	b, err = ParseBind("/products(number=42)")
	if err != nil || b.Key.Alternate["number"] != "42" {
		t.Fatalf("%+v %v", b, err)
	}
	for _, bad := range []string{"accounts", "/accounts()", "(x)", "/a(name='x)"} {
		if _, err := ParseBind(bad); err == nil {
			t.Errorf("ParseBind(%q) accepted", bad)
		}
	}
}
