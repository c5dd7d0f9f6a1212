package dataverse_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
)

func seed(f *fakeDV, n int) map[string]bool {
	ids := map[string]bool{}
	for i := range n {
		id := uuid.NewString()
		ids[id] = true
		f.put(map[string]any{"incidentid": id, "title": fmt.Sprintf("case %d", i), "ticketnumber": fmt.Sprintf("CAS-%05d", i)})
	}
	return ids
}

func TestPagerFollowsNextLinksWithTheSamePreferHeader(t *testing.T) {
	f := newFake(t)
	want := seed(f, 23)
	c := f.client(t, &dataverse.ClientOptions{PageSize: 5})
	p := c.NewPager(context.Background(), "incidents", dataverse.Query{Select: []string{"title"}, Annotations: "*"})
	defer p.Close()
	got := map[string]bool{}
	for p.Next() {
		id := p.Record().String("incidentid")
		if got[id] {
			t.Fatalf("duplicate %s", id)
		}
		got[id] = true
		if p.Record().ETag() == "" || p.Record().String("ticketnumber") != "" {
			t.Fatalf("record %v: want etag and only selected columns", p.Record())
		}
	}
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || p.Pages() != 5 {
		t.Fatalf("got %d records in %d pages, want %d in 5", len(got), p.Pages(), len(want))
	}
	for i, pref := range f.prefers {
		if pref != `odata.maxpagesize=5,odata.include-annotations="*"` {
			t.Fatalf("page %d Prefer = %q", i, pref)
		}
	}
}

func TestPagerRereadsAPageBrokenMidStream(t *testing.T) {
	f := newFake(t)
	want := seed(f, 12)
	var broke atomic.Bool
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("$skiptoken") != "" && broke.CompareAndSwap(false, true) {
			// Send the page's first record and part of the second, then cut.
			rec := httptestRecorder()
			f.serve(rec, r)
			body := rec.Body.String()
			cut := strings.Index(body, "},{") + 20
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(200)
			w.Write([]byte(body[:cut]))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return true
		}
		return false
	}
	c := f.client(t, &dataverse.ClientOptions{PageSize: 5})
	got := map[string]int{}
	for rec, err := range c.Records(context.Background(), "incident", dataverse.Query{}) {
		if err != nil {
			t.Fatal(err)
		}
		got[rec.String("incidentid")]++
	}
	if !broke.Load() {
		t.Fatal("fault not injected")
	}
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("record %s returned %d times", id, got[id])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
}

func TestRecordsStopsEarlyAndReleasesTheSlot(t *testing.T) {
	f := newFake(t)
	seed(f, 30)
	lim := dataverse.NewLimiter(dataverse.LimiterOptions{Initial: 1, Fixed: true})
	c := f.client(t, &dataverse.ClientOptions{PageSize: 10, Limiter: lim})
	n := 0
	for _, err := range c.Records(context.Background(), "incident", dataverse.Query{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 3 {
			break
		}
	}
	// With a limit of one, this read would block forever if the abandoned
	// page had kept its slot.
	if _, _, err := c.WhoAmI(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.requests.Load() != 2 {
		t.Fatalf("requests = %d: the pager read ahead after the loop stopped", f.requests.Load())
	}
}

func TestPagerReportsBadTable(t *testing.T) {
	f := newFake(t)
	c := f.client(t, nil)
	p := c.NewPager(context.Background(), "nosuchtables", dataverse.Query{})
	if p.Next() || p.Err() == nil {
		t.Fatal("unknown table read without error")
	}
}
