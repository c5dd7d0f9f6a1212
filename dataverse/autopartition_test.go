package dataverse_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

// countServer is a reference server with n accounts; total, when >= 0,
// answers RetrieveTotalRecordCount with that figure for account (the
// reference server does not implement the function).
func countServer(t *testing.T, n int, total int64) (*dataverse.Client, *int) {
	t.Helper()
	srv, err := refserver.New(refserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	calls := new(int)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "RetrieveTotalRecordCount") {
			*calls++
			p, _ := url.QueryUnescape(r.URL.Query().Get("@p1"))
			if total < 0 || r.URL.Path != refserver.APIPath+"RetrieveTotalRecordCount(EntityNames=@p1)" || p != `["account"]` {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			fmt.Fprintf(w, `{"@odata.context":"x","EntityRecordCountCollection":{"Count":1,"IsReadOnly":false,"Keys":["account"],"Values":[%d]}}`, total)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("t"), &dataverse.ClientOptions{Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	in := func(yield func(dataverse.Item) bool) {
		for i := range n {
			if !yield(dataverse.Item{Ref: int64(i), Record: dataverse.Record{"name": fmt.Sprintf("A %d", i)}}) {
				return
			}
		}
	}
	if err := c.WriteAll(context.Background(), "account", in, dataverse.BatchOptions{Mode: dataverse.ModeCreate}, func(r dataverse.Result) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return c, calls
}

func TestCountRows(t *testing.T) {
	ctx := context.Background()
	c, calls := countServer(t, 120, -1)
	got, err := c.CountRows(ctx, "account", dataverse.Filter{})
	if err != nil || got != (dataverse.RowCount{N: 120, Exact: true}) || *calls != 0 {
		t.Errorf("small table: %+v %v (%d RetrieveTotalRecordCount calls)", got, err, *calls)
	}
	got, err = c.CountRows(ctx, "account", dataverse.Eq("name", "A 7"))
	if err != nil || got != (dataverse.RowCount{N: 1, Exact: true}) {
		t.Errorf("filtered: %+v %v", got, err)
	}
	if c.DOPHint() != 4 {
		t.Errorf("DOPHint = %d after a read, want the reference server's 4", c.DOPHint())
	}
}

func TestCountRowsPastTheCountLimit(t *testing.T) {
	ctx := context.Background()
	// Without RetrieveTotalRecordCount the count is a lower bound.
	c, calls := countServer(t, 5001, -1)
	got, err := c.CountRows(ctx, "account", dataverse.Filter{})
	if err != nil || got != (dataverse.RowCount{N: 5000}) || got.Known() || *calls != 1 {
		t.Errorf("without the function: %+v %v (%d calls)", got, err, *calls)
	}
	// With it, the snapshot; never for a filtered read, which it cannot count.
	c, calls = countServer(t, 5001, 5001)
	got, err = c.CountRows(ctx, "account", dataverse.Filter{})
	if err != nil || got != (dataverse.RowCount{N: 5001, Snapshot: true}) {
		t.Errorf("with the function: %+v %v", got, err)
	}
	if got, _ = c.CountRows(ctx, "account", dataverse.Ne("name", "x")); got.Known() || *calls != 1 {
		t.Errorf("filtered read used the table total: %+v (%d calls)", got, *calls)
	}
}

func TestAutoPartitions(t *testing.T) {
	cases := []struct {
		count     dataverse.RowCount
		page, dop int
		want      int
	}{
		{dataverse.RowCount{N: 0, Exact: true}, 5000, 4, 1},
		{dataverse.RowCount{N: 4999, Exact: true}, 5000, 4, 1},
		{dataverse.RowCount{N: 4999, Exact: true}, 1000, 4, 4},
		{dataverse.RowCount{N: 2500, Exact: true}, 1000, 8, 3},
		{dataverse.RowCount{N: 5000}, 5000, 4, 4},                    // lower bound: many pages
		{dataverse.RowCount{N: 5000}, 5000, 0, 4},                    // no hint seen yet
		{dataverse.RowCount{N: 50000, Snapshot: true}, 5000, 50, 10}, // one per page
		{dataverse.RowCount{N: 5_000_000, Snapshot: true}, 5000, 50, dataverse.MaxAutoPartitions},
		{dataverse.RowCount{}, 5000, 4, 1}, // server gave no count
	}
	for _, c := range cases {
		if got := dataverse.AutoPartitions(c.count, c.page, c.dop); got != c.want {
			t.Errorf("AutoPartitions(%+v, page %d, dop %d) = %d, want %d", c.count, c.page, c.dop, got, c.want)
		}
	}
}

// TestCountRowsHonoursTheLimitAnnotation: an elastic table's count stops
// at 500; the totalrecordcountlimitexceeded annotation says so, and the
// count is then a lower bound, not the table's size.
func TestCountRowsHonoursTheLimitAnnotation(t *testing.T) {
	for _, c := range []struct {
		body string
		want dataverse.RowCount
	}{
		{`{"@odata.count":500,"@Microsoft.Dynamics.CRM.totalrecordcount":500,"@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded":true,"value":[{"accountid":"00000000-0000-0000-0000-000000000001"}]}`, dataverse.RowCount{N: 500}},
		{`{"@odata.count":5000,"@Microsoft.Dynamics.CRM.totalrecordcount":5000,"@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded":false,"value":[{"accountid":"00000000-0000-0000-0000-000000000001"}]}`, dataverse.RowCount{N: 5000, Exact: true}},
		{`{"@odata.count":12,"value":[{"accountid":"00000000-0000-0000-0000-000000000001"}]}`, dataverse.RowCount{N: 12, Exact: true}},
	} {
		var prefer string
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/accounts") {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			prefer = r.Header.Get("Prefer")
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(c.body))
		}))
		cl, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("t"), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cl.CountRows(context.Background(), "account", dataverse.Eq("name", "x"))
		hs.Close()
		if err != nil || got != c.want {
			t.Errorf("%s: %+v %v, want %+v", c.body, got, err, c.want)
		}
		if !strings.Contains(prefer, "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded") {
			t.Errorf("Prefer %q does not ask for the limit annotation", prefer)
		}
	}
}
