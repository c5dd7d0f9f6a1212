package dataverse_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
)

func readAll(t *testing.T, c *dataverse.Client, q dataverse.Query, parts int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for rec, err := range c.RecordsPartitioned(context.Background(), "incident", q, dataverse.PartitionOptions{Partitions: parts}) {
		if err != nil {
			t.Fatal(err)
		}
		got[rec.String("incidentid")]++
	}
	return got
}

func TestPartitionedReadEqualsSequentialRead(t *testing.T) {
	for _, sqlOrder := range []bool{false, true} {
		name := "text order"
		if sqlOrder {
			name = "SQL Server uniqueidentifier order"
		}
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.sqlOrder = sqlOrder
			seed(f, 300)
			c := f.client(t, &dataverse.ClientOptions{PageSize: 50})
			q := dataverse.Query{Select: []string{"title"}}
			seq := readAll(t, c, q, 1)
			if len(seq) != 300 {
				t.Fatalf("sequential read returned %d", len(seq))
			}
			for _, n := range []int{2, 5, 16} {
				par := readAll(t, c, q, n)
				if len(par) != len(seq) {
					t.Fatalf("%d partitions: %d records, sequential %d", n, len(par), len(seq))
				}
				for id, k := range par {
					if k != 1 || seq[id] != 1 {
						t.Fatalf("%d partitions: record %s returned %d times", n, id, k)
					}
				}
			}
		})
	}
}

func TestPartitionedReadKeepsTheFilter(t *testing.T) {
	f := newFake(t)
	seed(f, 50)
	c := f.client(t, nil)
	got := readAll(t, c, dataverse.Query{Filter: dataverse.Eq("title", "case 7")}, 4)
	if len(got) != 1 {
		t.Fatalf("got %d records, want 1", len(got))
	}
}

func TestPartitionedReadRejectsOrdering(t *testing.T) {
	f := newFake(t)
	c := f.client(t, nil)
	for _, err := range c.RecordsPartitioned(context.Background(), "incident", dataverse.Query{OrderBy: []dataverse.Order{{Column: "title"}}}, dataverse.PartitionOptions{Partitions: 2}) {
		if err == nil {
			t.Fatal("ordering accepted")
		}
		return
	}
	t.Fatal("no error")
}

func TestPartitionedReadStopsEarly(t *testing.T) {
	f := newFake(t)
	seed(f, 200)
	c := f.client(t, &dataverse.ClientOptions{PageSize: 10})
	n := 0
	for _, err := range c.RecordsPartitioned(context.Background(), "incident", dataverse.Query{}, dataverse.PartitionOptions{Partitions: 4, Buffer: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 5 {
			break
		}
	}
	// Every reader has returned: the limiter has no slot held.
	if _, _, err := c.WhoAmI(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRawPartitionedReadReturnsTheServerJSON(t *testing.T) {
	f := newFake(t)
	want := seed(f, 120)
	c := f.client(t, &dataverse.ClientOptions{PageSize: 25})
	for _, parts := range []int{1, 3} {
		got := map[string]bool{}
		for raw, err := range c.RawRecordsPartitioned(context.Background(), "incident", dataverse.Query{Select: []string{"title"}}, dataverse.PartitionOptions{Partitions: parts}) {
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("raw record %q: %v", raw, err)
			}
			id := m["incidentid"].(string)
			if got[id] || !want[id] || m["@odata.etag"] == nil {
				t.Fatalf("record %v", m)
			}
			got[id] = true
		}
		if len(got) != len(want) {
			t.Fatalf("%d partitions: %d of %d", parts, len(got), len(want))
		}
	}
}
