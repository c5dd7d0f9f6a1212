package dataverse_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
)

func TestFetchPagesWithCookiesAndAggregates(t *testing.T) {
	c := refClient(t)
	ctx := context.Background()
	for i := 0; i < 12; i++ {
		if _, err := c.Create(ctx, "account", dataverse.Record{"name": fmt.Sprintf("Fetch %02d", i), "numberofemployees": i}); err != nil {
			t.Fatal(err)
		}
	}
	query := `<fetch><entity name="account"><attribute name="name"/><attribute name="numberofemployees"/>` +
		`<filter><condition attribute="name" operator="begins-with" value="Fetch "/></filter><order attribute="name"/></entity></fetch>`
	var names []string
	for rec, err := range c.Fetch(ctx, query, &dataverse.FetchOptions{PageSize: 5}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, rec.String("name"))
	}
	if len(names) != 12 || names[0] != "Fetch 00" || names[11] != "Fetch 11" {
		t.Fatalf("names = %v", names)
	}
	rows, err := c.FetchAggregate(ctx, `<fetch aggregate="true"><entity name="account">`+
		`<attribute name="numberofemployees" alias="total" aggregate="sum"/><attribute name="accountid" alias="n" aggregate="count"/>`+
		`<filter><condition attribute="name" operator="begins-with" value="Fetch "/></filter></entity></fetch>`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || fmt.Sprint(rows[0]["total"]) != "66" || fmt.Sprint(rows[0]["n"]) != "12" {
		t.Fatalf("aggregate rows = %v", rows)
	}
	// The server's refusal comes back as the error.
	for _, err := range c.Fetch(ctx, `<fetch><entity name="account"><attribute name="nosuch"/></entity></fetch>`, nil) {
		if err == nil || !strings.Contains(err.Error(), "nosuch") {
			t.Fatalf("err = %v", err)
		}
	}
	if _, err := c.FetchAggregate(ctx, `<fetch><entity name="account"/></fetch>`); err == nil {
		t.Fatal("non-aggregate query accepted by FetchAggregate")
	}
	for _, err := range c.Fetch(ctx, `<notfetch/>`, nil) {
		if err == nil {
			t.Fatal("bad root accepted")
		}
	}
}
