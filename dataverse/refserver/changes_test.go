package refserver

import (
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

const trackChanges = "Prefer: odata.track-changes"

// deltaRead follows a tracked read through every page and returns the
// records and deletions it listed and the final delta link.
func (e *testEnv) deltaRead(t *testing.T, link string, prefer string) (changed []map[string]any, deleted []string, deltaLink string, pages int) {
	t.Helper()
	for link != "" {
		pages++
		if pages > 1000 {
			t.Fatal("delta paging does not end")
		}
		r := mustStatus(t, e.do("GET", link, nil, prefer), http.StatusOK)
		if got := r.header.Get("Preference-Applied"); !strings.Contains(got, "odata.track-changes") {
			t.Fatalf("Preference-Applied %q", got)
		}
		m := r.json(t)
		for _, v := range r.values(t) {
			if ctx, _ := v["@odata.context"].(string); strings.HasSuffix(ctx, "/$deletedEntity") {
				if v["reason"] != "deleted" {
					t.Fatalf("deleted entry %v", v)
				}
				deleted = append(deleted, v["id"].(string))
				continue
			}
			if len(deleted) > 0 {
				t.Fatalf("changed record after deletions: new and updated rows come first")
			}
			changed = append(changed, v)
		}
		next, _ := m["@odata.nextLink"].(string)
		dl, _ := m["@odata.deltaLink"].(string)
		if (next == "") == (dl == "") {
			t.Fatalf("a page carries exactly one of nextLink and deltaLink: %v / %v", next, dl)
		}
		link, deltaLink = next, dl
	}
	return changed, deleted, deltaLink, pages
}

func accountNames(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["name"].(string))
	}
	sort.Strings(out)
	return out
}

func TestChangeTrackingCreateUpdateDelete(t *testing.T) {
	e := newTestEnv(t, Options{})
	a := e.createID("accounts", map[string]any{"name": "a"})
	b := e.createID("accounts", map[string]any{"name": "b"})

	first, deleted, link, _ := e.deltaRead(t, "accounts?$select=name", trackChanges)
	if got := accountNames(first); strings.Join(got, ",") != "a,b" || len(deleted) != 0 {
		t.Fatalf("initial read: %v, deleted %v", got, deleted)
	}
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("$deltatoken") == "" || u.Query().Get("$select") != "name" {
		t.Fatalf("delta link %q", link)
	}
	if tok := u.Query().Get("$deltatoken"); !strings.Contains(tok, "!") {
		t.Fatalf("token %q is not <version>!<timestamp>", tok)
	}

	// Nothing changed: an empty delta with a fresh link.
	changed, deleted, link2, _ := e.deltaRead(t, link, "")
	if len(changed) != 0 || len(deleted) != 0 || link2 == "" {
		t.Fatalf("empty delta: %v %v %q", changed, deleted, link2)
	}

	mustStatus(t, e.do("PATCH", "accounts("+a+")", map[string]any{"name": "a2"}), http.StatusNoContent)
	c := e.createID("accounts", map[string]any{"name": "c"})
	mustStatus(t, e.do("DELETE", "accounts("+b+")", nil), http.StatusNoContent)
	gone := e.createID("accounts", map[string]any{"name": "short-lived"})
	mustStatus(t, e.do("DELETE", "accounts("+gone+")", nil), http.StatusNoContent)

	r := mustStatus(t, e.do("GET", link2, nil), http.StatusOK)
	if ctx := r.json(t)["@odata.context"].(string); !strings.HasSuffix(ctx, "#accounts(name)/$delta") {
		t.Fatalf("delta context %q", ctx)
	}
	changed, deleted, link3, _ := e.deltaRead(t, link2, "")
	if got := accountNames(changed); strings.Join(got, ",") != "a2,c" {
		t.Fatalf("changed %v", got)
	}
	sort.Strings(deleted)
	want := []string{b, gone}
	sort.Strings(want)
	if strings.Join(deleted, ",") != strings.Join(want, ",") {
		t.Fatalf("deleted %v, want %v (a record created and deleted between syncs still shows as deleted)", deleted, want)
	}
	_ = c

	// $count with a delta token counts the changes.
	cr := mustStatus(t, e.do("GET", "accounts/$count?"+mustQuery(t, link2), nil), http.StatusOK)
	if string(cr.body) != "4" {
		t.Fatalf("$count of changes = %s, want 4", cr.body)
	}
	// The newest link sees nothing.
	if changed, deleted, _, _ := e.deltaRead(t, link3, ""); len(changed)+len(deleted) != 0 {
		t.Fatalf("after catching up: %v %v", changed, deleted)
	}
}

func mustQuery(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return "$deltatoken=" + url.QueryEscape(u.Query().Get("$deltatoken"))
}

func TestChangeTrackingPages(t *testing.T) {
	e := newTestEnv(t, Options{})
	var ids []string
	for i := range 7 {
		ids = append(ids, e.createID("contacts", map[string]any{"lastname": "p", "firstname": string(rune('a' + i))}))
	}
	prefer := "Prefer: odata.track-changes,odata.maxpagesize=3"
	first, _, link, pages := e.deltaRead(t, "contacts?$select=firstname", prefer)
	if len(first) != 7 || pages != 3 {
		t.Fatalf("initial read: %d records in %d pages", len(first), pages)
	}
	// 4 updates and 3 deletes: 7 entries over 3 pages, updates first.
	for _, id := range ids[:4] {
		mustStatus(t, e.do("PATCH", "contacts("+id+")", map[string]any{"middlename": "x"}), http.StatusNoContent)
	}
	for _, id := range ids[4:] {
		mustStatus(t, e.do("DELETE", "contacts("+id+")", nil), http.StatusNoContent)
	}
	changed, deleted, _, pages := e.deltaRead(t, link, prefer)
	if len(changed) != 4 || len(deleted) != 3 || pages != 3 {
		t.Fatalf("delta: %d changed, %d deleted, %d pages", len(changed), len(deleted), pages)
	}
	seen := map[string]bool{}
	for _, c := range changed {
		id := c["contactid"].(string)
		if seen[id] {
			t.Fatalf("record %s listed twice", id)
		}
		seen[id] = true
	}
	r := mustStatus(t, e.do("GET", link, nil, prefer), http.StatusOK)
	if got := r.header.Get("Preference-Applied"); got != "odata.track-changes,odata.maxpagesize=3" {
		t.Fatalf("Preference-Applied %q", got)
	}
}

// A client that follows @odata.nextLink of a tracked read without repeating
// the Prefer header still gets the tracked pages: the skiptoken says so
// (istracking="True").
func TestChangeTrackingNextLinkWithoutPrefer(t *testing.T) {
	e := newTestEnv(t, Options{})
	for range 3 {
		e.createID("accounts", map[string]any{"name": "n"})
	}
	r := mustStatus(t, e.do("GET", "accounts?$select=name", nil, "Prefer: odata.track-changes,odata.maxpagesize=2"), http.StatusOK)
	next, _ := r.json(t)["@odata.nextLink"].(string)
	if next == "" {
		t.Fatal("no nextLink")
	}
	r = mustStatus(t, e.do("GET", next, nil), http.StatusOK)
	if r.json(t)["@odata.deltaLink"] == nil || len(r.values(t)) != 1 {
		t.Fatalf("second page: %s", r.body)
	}
}

func TestChangeTrackingRejectsQueryOptions(t *testing.T) {
	e := newTestEnv(t, Options{})
	for _, q := range []string{"$filter=name eq 'x'", "$orderby=name", "$expand=primarycontactid($select=fullname)", "$top=5"} {
		opt, _, _ := strings.Cut(q, "=")
		r := e.do("GET", "accounts?$select=name&"+q, nil, trackChanges)
		if r.status != http.StatusBadRequest {
			t.Fatalf("%s: status %d", opt, r.status)
		}
		code, msg := r.errorPayload(t)
		if code != codeQueryNotSupported || !strings.Contains(msg, opt) || !strings.Contains(msg, "isn't supported when Change Tracking is enabled") {
			t.Fatalf("%s: %s %q", opt, code, msg)
		}
	}
	var untracked string
	for _, tb := range e.srv.reg.Tables() {
		if !tb.ChangeTracking {
			untracked = tb.EntitySetName
			break
		}
	}
	if untracked == "" {
		t.Skip("every table tracks changes")
	}
	r := e.do("GET", untracked, nil, trackChanges)
	if code, _ := r.errorPayload(t); r.status != http.StatusBadRequest || code != codeChangeTrackingOff {
		t.Fatalf("untracked table: %d %s", r.status, code)
	}
}

func TestDeltaTokenExpires(t *testing.T) {
	e := newTestEnv(t, Options{ChangeRetention: time.Hour})
	e.createID("accounts", map[string]any{"name": "x"})
	_, _, link, _ := e.deltaRead(t, "accounts?$select=name", trackChanges)
	tok, err := parseDeltaToken(mustToken(t, link))
	if err != nil {
		t.Fatal(err)
	}
	// Within retention: accepted.
	mustStatus(t, e.do("GET", link, nil), http.StatusOK)
	// Issued longer ago than the retention: a full sync is needed.
	old := deltaToken{version: tok.version, issued: time.Now().Add(-2 * time.Hour)}
	for _, path := range []string{"accounts?$select=name&$deltatoken=", "accounts/$count?$deltatoken="} {
		r := e.do("GET", path+url.QueryEscape(old.String()), nil)
		if r.status != http.StatusBadRequest {
			t.Fatalf("%s: status %d", path, r.status)
		}
		if code, msg := r.errorPayload(t); code != codeExpiredVersionStamp || msg != "Version stamp associated with the client has expired. Please perform a full sync." {
			t.Fatalf("%s: %s %q", path, code, msg)
		}
	}
	// A token from a store that has since been replaced (its version is
	// ahead of this one) cannot be served either.
	future := deltaToken{version: tok.version + 1000, issued: time.Now()}
	for _, path := range []string{"accounts?$deltatoken=", "accounts/$count?$deltatoken="} {
		r := e.do("GET", path+url.QueryEscape(future.String()), nil)
		if code, _ := r.errorPayload(t); r.status != http.StatusBadRequest || code != codeExpiredVersionStamp {
			t.Fatalf("%s with a future token: %d %s", path, r.status, code)
		}
	}
	// Garbage is rejected with the same code, so clients re-read in full.
	r := e.do("GET", "accounts?$deltatoken=garbage", nil)
	if code, _ := r.errorPayload(t); r.status != http.StatusBadRequest || code != codeExpiredVersionStamp {
		t.Fatalf("garbage token: %d %s", r.status, code)
	}
}

func mustToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("$deltatoken")
}

func TestDeltaTokenSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dv.db")
	e := newTestEnv(t, Options{DataPath: path})
	a := e.createID("accounts", map[string]any{"name": "before"})
	_, _, link, _ := e.deltaRead(t, "accounts?$select=name", trackChanges)
	token := mustToken(t, link)
	e.hs.Close()
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}

	e2 := newTestEnv(t, Options{DataPath: path})
	mustStatus(t, e2.do("PATCH", "accounts("+a+")", map[string]any{"name": "after"}), http.StatusNoContent)
	changed, deleted, _, _ := e2.deltaRead(t, "accounts?$select=name&$deltatoken="+url.QueryEscape(token), "")
	if len(changed) != 1 || changed[0]["name"] != "after" || len(deleted) != 0 {
		t.Fatalf("after restart: %v %v", changed, deleted)
	}
}
